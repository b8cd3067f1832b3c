// draft.js: drafting an operation on the map. The officer draws a polygon
// (click vertices, finish by clicking the first one, double-clicking or the
// Finish button) or a circle (click the centre, then the rim), fills in the
// kind, distances, window and altitude band, and sees with "Check" what the
// draft would open before filing it.

import L from 'leaflet';
import { COLORS, geo_layer, other_shapes } from './map.js';
import { el, conflict_item } from './panel.js';
import { HAZARDOUS, fmt_distance } from './model.js';

function iso_minute(ms) {
  return new Date(Math.ceil(ms / 60000) * 60000).toISOString().replace('.000Z', 'Z');
}

// draft_create wires the draft tab. ctx: {map, api, me, clockMs(),
// partyName(), onFiled(op), activate(id), toast(msg, kind)}.
export function draft_create(ctx) {
  const map = ctx.map;
  const form = document.getElementById('draft-form');
  const hint = document.getElementById('draw-hint');
  const geomText = document.getElementById('draft-geom');
  const result = document.getElementById('draft-result');
  const finishBtn = document.getElementById('draw-finish');
  const activateBtn = document.getElementById('draft-activate');
  const f = (n) => form.elements.namedItem(n);

  const layer = L.featureGroup().addTo(map);
  const checkLayer = L.featureGroup().addTo(map);
  let mode = null;
  let vertices = [];
  let center = null;
  let radius = 0;
  let geometry = null;
  let filedId = null;
  let seq = 1;

  function defaults() {
    if (!f('id').value) f('id').value = `${ctx.me || 'op'}-draft-${seq}`;
    if (!f('start').value) {
      const now = ctx.clockMs();
      const start = iso_minute(now + 10 * 60000);
      f('start').value = start;
      f('end').value = iso_minute(Date.parse(start) + 3600000);
    }
  }

  function redraw(preview) {
    layer.clearLayers();
    const style = { color: COLORS.draft, weight: 3, fillColor: COLORS.draft, fillOpacity: 0.15, className: 'dc-draft' };
    if (geometry) {
      const l = geo_layer(geometry, geometry.type === 'Point' ? radius : 0, style);
      if (l) layer.addLayer(l);
      return;
    }
    if (mode === 'polygon' && vertices.length) {
      const pts = vertices.slice();
      if (preview) pts.push(preview);
      layer.addLayer(L.polyline(pts, { ...style, dashArray: '6 4', interactive: false }));
      vertices.forEach((v, i) => layer.addLayer(L.circleMarker(v, {
        radius: i === 0 ? 7 : 5, color: COLORS.draft, weight: 2, fillColor: '#fff', fillOpacity: 1,
        interactive: false, className: 'dc-draft-vertex',
      })));
    }
    if (mode === 'circle' && center) {
      const r = preview ? map.distance(center, preview) : radius;
      layer.addLayer(L.circle(center, { ...style, radius: Math.max(r, 1), dashArray: '6 4', interactive: false }));
    }
  }

  function describe() {
    if (!geometry) {
      geomText.textContent = 'No shape drawn.';
      return;
    }
    if (geometry.type === 'Point') {
      const [lon, lat] = geometry.coordinates;
      geomText.textContent = `Circle: centre ${lat.toFixed(5)}, ${lon.toFixed(5)}, radius ${fmt_distance(radius)}.`;
    } else {
      geomText.textContent = `Polygon: ${geometry.coordinates[0].length - 1} vertices.`;
    }
  }

  function set_mode(m) {
    mode = m;
    vertices = [];
    center = null;
    if (m) {
      geometry = null;
      map.doubleClickZoom.disable();
      map.getContainer().classList.add('drawing');
      defaults();
    } else {
      map.doubleClickZoom.enable();
      map.getContainer().classList.remove('drawing');
    }
    finishBtn.hidden = m !== 'polygon';
    hint.textContent = m === 'polygon'
      ? 'Click the vertices on the map; click the first vertex, double-click or press Finish to close.'
      : m === 'circle' ? 'Click the centre, then click the rim (or type the radius).'
        : geometry ? 'Shape drawn. Check it, then file it.' : 'Choose a shape, then click on the map.';
    document.getElementById('draw-polygon').setAttribute('aria-pressed', m === 'polygon');
    document.getElementById('draw-circle').setAttribute('aria-pressed', m === 'circle');
    redraw();
    describe();
  }

  function finish_polygon() {
    if (vertices.length < 3) {
      hint.textContent = 'A polygon needs at least three vertices.';
      return;
    }
    const ring = vertices.map((v) => [Number(v.lng.toFixed(6)), Number(v.lat.toFixed(6))]);
    ring.push(ring[0].slice());
    geometry = { type: 'Polygon', coordinates: [ring] };
    f('radius_m').disabled = true;
    f('radius_m').value = '';
    set_mode(null);
    changed();
  }

  function changed() {
    filedId = null;
    activateBtn.hidden = true;
    checkLayer.clearLayers();
  }

  map.on('click', (e) => {
    if (!mode) return;
    const ll = e.latlng;
    if (mode === 'polygon') {
      if (vertices.length >= 3) {
        const p0 = map.latLngToContainerPoint(vertices[0]);
        if (p0.distanceTo(e.containerPoint) < 12) {
          finish_polygon();
          return;
        }
      }
      vertices.push(ll);
      redraw();
      hint.textContent = `${vertices.length} vertex${vertices.length === 1 ? '' : 'es'}. ${vertices.length >= 3 ? 'Click the first vertex or press Finish to close.' : 'Keep clicking.'}`;
    } else if (mode === 'circle') {
      if (!center) {
        center = ll;
        redraw();
        hint.textContent = 'Now click the rim.';
      } else {
        radius = Math.max(1, Math.round(map.distance(center, ll)));
        geometry = { type: 'Point', coordinates: [Number(center.lng.toFixed(6)), Number(center.lat.toFixed(6))] };
        f('radius_m').disabled = false;
        f('radius_m').value = String(radius);
        set_mode(null);
        changed();
      }
    }
  });
  map.on('dblclick', () => {
    if (mode === 'polygon') finish_polygon();
  });
  map.on('mousemove', (e) => {
    if (mode === 'polygon' && vertices.length) redraw(e.latlng);
    if (mode === 'circle' && center) redraw(e.latlng);
  });

  document.getElementById('draw-polygon').addEventListener('click', () => set_mode('polygon'));
  document.getElementById('draw-circle').addEventListener('click', () => set_mode('circle'));
  finishBtn.addEventListener('click', finish_polygon);
  document.getElementById('draw-clear').addEventListener('click', () => {
    geometry = null;
    radius = 0;
    f('radius_m').value = '';
    f('radius_m').disabled = true;
    result.replaceChildren();
    changed();
    set_mode(null);
  });
  f('radius_m').addEventListener('input', () => {
    const r = Number(f('radius_m').value);
    if (geometry && geometry.type === 'Point' && r > 0) {
      radius = r;
      redraw();
      describe();
      changed();
    }
  });
  form.addEventListener('input', (e) => {
    if (e.target.name !== 'radius_m') changed();
  });
  form.addEventListener('submit', (e) => e.preventDefault());

  // body builds the operation from the form; throws Error naming a field.
  function body() {
    if (!geometry) throw new Error('Draw a polygon or a circle on the map first.');
    const id = f('id').value.trim();
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(id)) throw new Error('Id: 1–64 letters, digits or _ . : -');
    const num = (n, opt) => {
      const v = f(n).value.trim();
      if (v === '') return opt ? undefined : 0;
      const x = Number(v);
      if (!Number.isFinite(x)) throw new Error(`${n}: not a number`);
      return x;
    };
    const start = f('start').value.trim();
    const end = f('end').value.trim();
    if (!Number.isFinite(Date.parse(start))) throw new Error('Start: an RFC 3339 time such as 2017-02-09T05:00:00Z');
    if (!Number.isFinite(Date.parse(end))) throw new Error('End: an RFC 3339 time such as 2017-02-09T06:00:00Z');
    if (Date.parse(start) >= Date.parse(end)) throw new Error('The window must start before it ends.');
    const volume = { geometry, start, end };
    if (geometry.type === 'Point') volume.radius_m = radius;
    const lo = num('alt_lower_m', true);
    const hi = num('alt_upper_m', true);
    if (lo !== undefined) volume.alt_lower_m = lo;
    if (hi !== undefined) volume.alt_upper_m = hi;
    if (lo !== undefined && hi !== undefined && lo > hi) throw new Error('Altitude band: the lower bound is above the upper.');
    const kind = f('kind').value;
    const op = { id, kind, hazard_m: num('hazard_m'), warning_m: num('warning_m'), volumes: [volume] };
    const name = f('name').value.trim();
    if (name) op.name = name;
    if (op.hazard_m < 0 || op.warning_m < 0) throw new Error('Distances must not be negative.');
    return op;
  }

  function show_error(err) {
    const msg = err.field ? `${err.message} (field: ${err.field})` : err.message;
    result.replaceChildren(el('p', { class: 'error', role: 'alert', 'data-testid': 'draft-error' }, msg));
  }

  function show_conflicts(title, conflicts, kind) {
    checkLayer.clearLayers();
    const list = el('ol', { class: 'conflicts', 'data-testid': `${kind}-conflicts` });
    for (const c of conflicts) {
      list.append(conflict_item(c, ctx.me, { compact: true, partyName: ctx.partyName }));
      for (const s of other_shapes(c.other)) {
        const color = c.severity === 'critical' ? COLORS.critical : COLORS.warning;
        const l = geo_layer(s.geometry, s.radius_m, { color, weight: 4, fill: false, interactive: false });
        if (l) checkLayer.addLayer(l);
      }
    }
    const summary = el('p', {
      class: `summary ${conflicts.length ? 'bad' : 'good'}`, 'data-testid': `${kind}-summary`,
      'data-count': String(conflicts.length),
    }, title);
    result.replaceChildren(summary, list);
    summary.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }

  function count_text(n) {
    return n === 0 ? 'no conflicts' : n === 1 ? '1 conflict' : `${n} conflicts`;
  }

  document.getElementById('draft-check').addEventListener('click', async () => {
    let op;
    try {
      op = body();
    } catch (err) {
      show_error(err);
      return;
    }
    result.replaceChildren(el('p', { class: 'hint' }, 'Checking…'));
    try {
      const res = await ctx.api.check(op);
      const cs = (res && res.conflicts) || [];
      show_conflicts(`Check: this draft would open ${count_text(cs.length)}.${cs.length && HAZARDOUS.has(op.kind) ? ' Critical conflicts will block activation until both sides acknowledge.' : ''}`, cs, 'check');
    } catch (err) {
      show_error(err);
    }
  });

  document.getElementById('draft-file').addEventListener('click', async () => {
    let op;
    try {
      op = body();
    } catch (err) {
      show_error(err);
      return;
    }
    try {
      const res = await ctx.api.file_operation(op);
      const cs = (res && res.conflicts) || [];
      filedId = op.id;
      show_conflicts(`Filed ${op.id} (planned). It opened ${count_text(cs.length)}.`, cs, 'filed');
      activateBtn.hidden = false;
      ctx.toast(`Operation ${op.id} filed`, 'good');
      seq++;
      ctx.onFiled(op);
    } catch (err) {
      show_error(err);
    }
  });

  activateBtn.addEventListener('click', () => {
    if (filedId) ctx.activate(filedId);
  });

  return {
    reset_layers() { checkLayer.clearLayers(); },
    defaults,
  };
}
