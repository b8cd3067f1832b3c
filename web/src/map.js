// map.js: the Leaflet map. The basemap is Natural Earth country borders from
// the world-atlas package, served beside the page (no tile server, nothing
// from the network but this service). Objects are drawn as SVG with their
// ids as permanent DOM labels, so names stay text, not canvas pixels.

import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { feature, mesh } from 'topojson-client';
import {
  model_unit_position, model_owner, model_age_s, model_unit_stale, fmt_age, fmt_time,
  fmt_distance, model_conflict_key,
} from './model.js';

export const COLORS = {
  critical: '#d00000',
  warning: '#e08a00',
  own: '#0047ab',
  shared: '#007c80',
  site: '#00743a',
  foreign: '#222222',
  active: '#6a00b8',
  ended: '#6b6b6b',
  draft: '#c4007a',
};

// geo_bounds returns the L.LatLngBounds of a GeoJSON geometry, a Point
// growing by radius_m.
export function geo_bounds(geometry, radius_m) {
  if (!geometry) return null;
  const t = geometry.type;
  const c = geometry.coordinates;
  if (t === 'Point') return L.latLng(c[1], c[0]).toBounds(2 * Math.max(radius_m || 0, 50));
  const pts = [];
  const walk = (a) => {
    if (typeof a[0] === 'number') pts.push([a[1], a[0]]);
    else a.forEach(walk);
  };
  if (c) walk(c);
  if (t === 'GeometryCollection') {
    let b = null;
    for (const g of geometry.geometries || []) {
      const gb = geo_bounds(g, radius_m);
      if (gb) b = b ? b.extend(gb) : gb;
    }
    return b;
  }
  return pts.length ? L.latLngBounds(pts) : null;
}

function ring_latlngs(ring) {
  return ring.map(([lon, lat]) => [lat, lon]);
}

// geo_layer draws a GeoJSON geometry (Point with radius_m as a disc, a
// Point without as a dot, Polygon, MultiPolygon, LineString).
export function geo_layer(geometry, radius_m, style) {
  if (!geometry) return null;
  const c = geometry.coordinates;
  switch (geometry.type) {
    case 'Point':
      if (radius_m > 0) return L.circle([c[1], c[0]], { ...style, radius: radius_m });
      return L.circleMarker([c[1], c[0]], { ...style, radius: 6 });
    case 'Polygon':
      return L.polygon(c.map(ring_latlngs), style);
    case 'MultiPolygon':
      return L.polygon(c.map((p) => p.map(ring_latlngs)), style);
    case 'LineString':
      return L.polyline(ring_latlngs(c), style);
    case 'GeometryCollection': {
      const g = L.featureGroup();
      for (const part of geometry.geometries || []) {
        const l = geo_layer(part, radius_m, style);
        if (l) g.addLayer(l);
      }
      return g;
    }
    default:
      return null;
  }
}

function center_of(bounds) {
  return bounds ? bounds.getCenter() : null;
}

// label puts a permanent DOM text label beside a shape; the other side's
// objects are labelled on the left so they do not hide the party's own.
function label(layer, text, cls) {
  const left = cls === 'lbl-other';
  layer.bindTooltip(text, {
    permanent: true, direction: left ? 'left' : 'right', offset: [left ? -8 : 8, 0], className: `lbl ${cls || ''}`,
  });
}

function tag(layer, attrs) {
  layer.on('add', () => {
    const el = layer.getElement && layer.getElement();
    if (el) for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  });
}

// The geometry of one of my objects named by a conflict's `mine`.
function my_object_shape(data, mine) {
  if (!mine) return null;
  if (mine.type === 'unit') {
    const u = data.units.find((x) => x.id === mine.id && model_owner(x, data.me) === data.me);
    const p = u && model_unit_position(u);
    return p ? [{ geometry: { type: 'Point', coordinates: [p.lon, p.lat] }, radius_m: p.ce_m }] : null;
  }
  if (mine.type === 'site') {
    const s = data.sites.find((x) => x.id === mine.id && model_owner(x, data.me) === data.me);
    return s ? [{ geometry: s.geometry, radius_m: s.radius_m }] : null;
  }
  if (mine.type === 'operation') {
    const o = data.operations.find((x) => x.id === mine.id && model_owner(x, data.me) === data.me);
    return o ? (o.volumes || []).map((v) => ({ geometry: v.geometry, radius_m: v.radius_m })) : null;
  }
  return null;
}

// The shapes of a conflict's other object: its geometry, or its volumes.
export function other_shapes(other) {
  if (!other) return [];
  if (Array.isArray(other.volumes) && other.volumes.length) {
    return other.volumes.map((v) => ({ geometry: v.geometry, radius_m: v.radius_m }));
  }
  if (other.geometry) {
    return [{ geometry: other.geometry, radius_m: other.radius_m ?? other.ce_m ?? 0 }];
  }
  return [];
}

function shapes_bounds(shapes) {
  let b = null;
  for (const s of shapes || []) {
    const sb = geo_bounds(s.geometry, s.radius_m);
    if (sb) b = b ? b.extend(sb) : sb;
  }
  return b;
}

// map_create builds the map in element el. onSelectConflict(key) is called
// when a conflict is clicked on the map.
export function map_create(el, { onSelectConflict }) {
  const map = L.map(el, {
    center: [36.37, 37.51],
    zoom: 12,
    minZoom: 2,
    maxZoom: 18,
    worldCopyJump: true,
    preferCanvas: false,
    attributionControl: true,
  });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution('Borders: Natural Earth');
  L.control.scale({ imperial: false, position: 'bottomright' }).addTo(map);

  const baseRenderer = L.canvas({ padding: 0.5 });
  map.createPane('base');
  map.getPane('base').style.zIndex = 250;
  fetch('countries-10m.json')
    .then((r) => r.json())
    .then((topo) => {
      const land = feature(topo, topo.objects.countries);
      L.geoJSON(land, {
        pane: 'base', renderer: baseRenderer, interactive: false,
        style: { color: '#8a8a8a', weight: 0, fillColor: '#f3f1ea', fillOpacity: 1 },
      }).addTo(map);
      const borders = mesh(topo, topo.objects.countries, (a, b) => a !== b);
      L.geoJSON(borders, {
        pane: 'base', renderer: baseRenderer, interactive: false,
        style: { color: '#5a5a5a', weight: 1.5, dashArray: '6 3' },
      }).addTo(map);
      el.dataset.basemap = 'loaded';
    })
    .catch(() => { el.dataset.basemap = 'failed'; });

  const groups = {
    ownUnits: L.featureGroup().addTo(map),
    sharedUnits: L.featureGroup().addTo(map),
    sites: L.featureGroup().addTo(map),
    ownOps: L.featureGroup().addTo(map),
    sharedOps: L.featureGroup().addTo(map),
    others: L.featureGroup().addTo(map),
    conflicts: L.featureGroup().addTo(map),
    selection: L.featureGroup().addTo(map),
  };
  L.control.layers(null, {
    'My units': groups.ownUnits,
    'Shared units': groups.sharedUnits,
    'Sites (mine + public)': groups.sites,
    'My operations': groups.ownOps,
    'Shared operations': groups.sharedOps,
    'Other side in conflicts': groups.others,
    'Conflicts': groups.conflicts,
  }, { collapsed: window.matchMedia('(max-width: 900px)').matches, position: 'topright' }).addTo(map);

  // Pointer position readout, as text.
  const Readout = L.Control.extend({
    onAdd() {
      const d = L.DomUtil.create('div', 'readout');
      d.hidden = true;
      return d;
    },
  });
  const readout = new Readout({ position: 'bottomleft' }).addTo(map);

  // Legend: what the colours and dashes mean, in words.
  const Legend = L.Control.extend({
    onAdd() {
      const d = L.DomUtil.create('details', 'legend');
      d.open = !window.matchMedia('(max-width: 1023px)').matches;
      const sum = L.DomUtil.create('summary', '', d);
      sum.textContent = 'Legend';
      const items = [
        ['line', COLORS.critical, 'Conflict: critical'],
        ['line', COLORS.warning, 'Conflict: warning'],
        ['dot', COLORS.own, 'My unit'],
        ['dot', COLORS.shared, 'Shared unit'],
        ['hollow', '#555', 'Stale position'],
        ['area', COLORS.site, 'Protected site'],
        ['dash', COLORS.own, 'My operation: planned'],
        ['area', COLORS.active, 'My operation: active'],
        ['area', COLORS.foreign, 'Other side'],
        ['area', COLORS.draft, 'Draft'],
      ];
      for (const [kind, color, text] of items) {
        const row = L.DomUtil.create('div', 'legend-row', d);
        const sw = L.DomUtil.create('span', `sw sw-${kind}`, row);
        sw.style.setProperty('--c', color);
        row.append(document.createTextNode(text));
      }
      L.DomEvent.disableClickPropagation(d);
      return d;
    },
  });
  new Legend({ position: 'bottomleft' }).addTo(map);
  map.on('mousemove', (e) => {
    const { lat, lng } = e.latlng.wrap();
    readout.getContainer().hidden = false;
    readout.getContainer().textContent =
      `${Math.abs(lat).toFixed(5)}°${lat >= 0 ? 'N' : 'S'} ${Math.abs(lng).toFixed(5)}°${lng >= 0 ? 'E' : 'W'}`;
  });

  let conflictBounds = new Map();
  let fitted = false;

  function render(data) {
    const { me, clockMs } = data;
    for (const g of Object.values(groups)) if (g !== groups.selection) g.clearLayers();

    for (const u of data.units) {
      const p = model_unit_position(u);
      if (!p) continue;
      const owner = model_owner(u, me);
      const own = owner === me;
      const age = clockMs === null ? null : model_age_s(p.time, clockMs);
      const stale = model_unit_stale(u, age, data.staleAfter);
      const color = own ? COLORS.own : COLORS.shared;
      const g = own ? groups.ownUnits : groups.sharedUnits;
      if (p.ce_m > 0) {
        g.addLayer(L.circle([p.lat, p.lon], {
          radius: p.ce_m, color, weight: 1, fillOpacity: 0.08, dashArray: stale ? '4 4' : null,
          interactive: false,
        }));
      }
      const m = L.circleMarker([p.lat, p.lon], {
        radius: 7, color: stale ? '#555' : '#000', weight: 2,
        fillColor: stale ? '#ffffff' : color, fillOpacity: 1, dashArray: stale ? '3 2' : null,
        className: 'dc-unit',
      });
      tag(m, { 'data-id': u.id, 'data-owner': owner });
      const who = own ? '' : `${owner} `;
      label(m, `${who}${u.id}${stale ? ` · STALE${age !== null ? ` ${fmt_age(age)}` : ''}` : ''}`, stale ? 'lbl-stale' : own ? 'lbl-own' : 'lbl-shared');
      m.bindPopup(() => {
        const d = document.createElement('div');
        const rows = [
          [`${own ? 'My unit' : `${owner} unit`}`, u.id],
          ['Callsign', u.callsign || '—'],
          ['Domain', u.domain || '—'],
          ['Reported', fmt_time(p.time, true)],
          ['Age', `${age !== null ? fmt_age(age) : '?'}${stale ? ' (stale)' : ''}`],
          ['Circular error', fmt_distance(p.ce_m)],
        ];
        if (p.alt_m !== null) rows.push(['Altitude', `${p.alt_m} m`]);
        for (const [k, v] of rows) {
          const r = document.createElement('div');
          const b = document.createElement('b');
          b.textContent = `${k}: `;
          r.append(b, document.createTextNode(v));
          d.append(r);
        }
        return d;
      });
      g.addLayer(m);
    }

    for (const s of data.sites) {
      const owner = model_owner(s, me);
      const l = geo_layer(s.geometry, s.radius_m, {
        color: COLORS.site, weight: 2, fillColor: COLORS.site, fillOpacity: 0.2, className: 'dc-site',
      });
      if (!l) continue;
      tag(l, { 'data-id': s.id, 'data-owner': owner });
      label(l, `${owner === me ? '' : `${owner} `}${s.id} (${s.category || 'site'})`, 'lbl-site');
      l.bindPopup(`${s.name || s.id}`);
      groups.sites.addLayer(l);
      if (s.geometry && s.geometry.type === 'Point' && (s.standoff_m || 0) > 0) {
        const c = s.geometry.coordinates;
        groups.sites.addLayer(L.circle([c[1], c[0]], {
          radius: (s.radius_m || 0) + s.standoff_m, color: COLORS.site, weight: 1,
          dashArray: '5 5', fill: false, interactive: false,
        }));
      }
    }

    for (const o of data.operations) {
      const owner = model_owner(o, me);
      const own = owner === me;
      const st = o.state || 'planned';
      const color = !own ? COLORS.foreign : st === 'active' ? COLORS.active
        : st === 'planned' ? COLORS.own : COLORS.ended;
      const style = {
        color, weight: st === 'active' ? 3 : 2,
        dashArray: st === 'planned' ? '8 6' : st === 'active' ? null : '2 6',
        fillColor: color, fillOpacity: st === 'active' ? 0.18 : 0.06, className: 'dc-op',
      };
      const g = own ? groups.ownOps : groups.sharedOps;
      (o.volumes || []).forEach((v, i) => {
        const l = geo_layer(v.geometry, v.radius_m, style);
        if (!l) return;
        tag(l, { 'data-id': o.id, 'data-owner': owner, 'data-state': st });
        if (i === 0) label(l, `${own ? '' : `${owner} `}${o.id} · ${o.kind || ''} · ${st}`, own ? 'lbl-op' : 'lbl-shared');
        l.bindPopup(`${o.name || o.id}`);
        g.addLayer(l);
        if (v.geometry && v.geometry.type === 'Point' && (o.hazard_m || 0) > 0) {
          const c = v.geometry.coordinates;
          g.addLayer(L.circle([c[1], c[0]], {
            radius: (v.radius_m || 0) + o.hazard_m, color, weight: 1, dashArray: '2 4',
            fill: false, interactive: false,
          }));
        }
      });
    }

    conflictBounds = new Map();
    const seenOther = new Set();
    for (const c of data.conflicts) {
      const key = model_conflict_key(c);
      const color = c.severity === 'critical' ? COLORS.critical : COLORS.warning;
      const other = c.other || {};
      const oshapes = other_shapes(other);
      const mshapes = my_object_shape(data, c.mine) || [];
      const otherKey = `${other.party}:${other.type}:${other.id}`;
      for (const s of oshapes) {
        if (!seenOther.has(otherKey)) {
          const l = geo_layer(s.geometry, s.radius_m, {
            color: COLORS.foreign, weight: 2, fillColor: COLORS.foreign, fillOpacity: 0.06, className: 'dc-other',
          });
          if (l) {
            tag(l, { 'data-id': other.id || '', 'data-owner': other.party || '' });
            label(l, `${other.party || '?'} ${other.type || ''} ${other.id || ''}${other.kind ? ` (${other.kind})` : ''}`, 'lbl-other');
            groups.others.addLayer(l);
          }
        }
        const hl = geo_layer(s.geometry, s.radius_m, {
          color, weight: 4, fill: false, className: `dc-conflict dc-${c.severity}`,
        });
        if (hl) {
          hl.on('click', () => onSelectConflict(key));
          groups.conflicts.addLayer(hl);
        }
      }
      seenOther.add(otherKey);
      for (const s of mshapes) {
        const hl = geo_layer(s.geometry, Math.max(s.radius_m || 0, 0), {
          color, weight: 4, fill: false, dashArray: '1 7', lineCap: 'round', className: `dc-conflict dc-${c.severity}`,
        });
        if (hl) {
          hl.on('click', () => onSelectConflict(key));
          groups.conflicts.addLayer(hl);
        }
      }
      const ob = shapes_bounds(oshapes);
      const mb = shapes_bounds(mshapes);
      if (ob && mb) {
        const line = L.polyline([center_of(mb), center_of(ob)], {
          color, weight: 3, dashArray: '10 6', className: `dc-conflict dc-${c.severity}`,
        });
        line.on('click', () => onSelectConflict(key));
        groups.conflicts.addLayer(line);
      }
      const b = ob && mb ? L.latLngBounds(ob.getSouthWest(), ob.getNorthEast()).extend(mb) : ob || mb;
      if (b) conflictBounds.set(key, b);
    }

    if (!fitted) {
      let all = null;
      for (const g of [groups.ownUnits, groups.sites, groups.ownOps, groups.conflicts, groups.sharedUnits]) {
        if (g.getLayers().length) {
          const b = g.getBounds();
          if (b.isValid()) all = all ? all.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
        }
      }
      if (all) {
        map.fitBounds(all, { padding: [40, 40], maxZoom: 14 });
        fitted = true;
      }
    }
  }

  // select_conflict zooms to a conflict and outlines it. Returns false when
  // nothing about it can be placed on the map.
  function select_conflict(c) {
    groups.selection.clearLayers();
    if (!c) return false;
    const key = model_conflict_key(c);
    const b = conflictBounds.get(key) || shapes_bounds(other_shapes(c.other));
    if (!b) return false;
    map.fitBounds(b, { padding: [60, 60], maxZoom: 16 });
    const r = L.rectangle(b.pad(0.15), {
      color: '#000', weight: 2, dashArray: '4 4', fill: false, interactive: false, className: 'dc-selection',
    });
    groups.selection.addLayer(r);
    el.dataset.selected = key;
    return true;
  }

  // zoom_to shows shapes [{geometry, radius_m}] on the map.
  function zoom_to(shapes) {
    const b = shapes_bounds(shapes);
    if (b) map.fitBounds(b, { padding: [60, 60], maxZoom: 15 });
  }

  return { map, render, select_conflict, zoom_to, groups };
}
