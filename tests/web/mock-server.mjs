// mock-server.mjs: a stand-in for `deconflict serve`, for developing the
// page before the real service exists and for checking the tests
// themselves. It speaks the few endpoints of SPEC section 4 the page uses,
// loads a scenario, and finds conflicts with a flat-earth approximation
// (good to a few metres over an exercise area; NOT the real engine).
//
//   node mock-server.mjs serve --scenario FILE --listen HOST:PORT --web DIR [--data DIR]
//
// Prints one line per party: `RU: http://HOST:PORT/#party=RU&token=...`.

import http from 'node:http';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, extname, normalize } from 'node:path';
import { randomBytes } from 'node:crypto';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const scenario = JSON.parse(readFileSync(opt('scenario'), 'utf8'));
const [host, port] = opt('listen', '127.0.0.1:8080').split(':');
const webDir = opt('web', 'web/dist');

const clockStart = Date.parse(scenario.clock || new Date().toISOString());
const t0 = Date.now();
const now = () => clockStart + (Date.now() - t0);
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

// ---- store ---------------------------------------------------------------
const parties = new Map(); // id -> {id, name, token, stale_after_s}
for (const p of scenario.parties) {
  parties.set(p.id, { ...p, token: randomBytes(12).toString('hex'), stale_after_s: p.stale_after_s ?? 600 });
}
const sharing = scenario.sharing || [];
const sites = (scenario.sites || []).map((s) => ({ disclose: 'conflicts', standoff_m: 0, ...s }));
const units = (scenario.units || []).map((u) => ({ ...u, position: null }));
for (const r of scenario.positions || []) {
  const u = units.find((x) => x.owner === r.owner && x.id === r.unit);
  if (u) u.position = { lon: r.lon, lat: r.lat, alt_m: r.alt_m, ce_m: r.ce_m || 0, time: r.time };
}
const operations = (scenario.operations || []).map((o) => ({ state: 'planned', hazard_m: 0, ...o, warning_m: o.warning_m ?? o.hazard_m ?? 0 }));

// ---- geometry (local flat approximation) ----------------------------------
const R = 6371008.8;
function proj(lon, lat, lat0) {
  return [(lon * Math.PI / 180) * R * Math.cos(lat0 * Math.PI / 180), (lat * Math.PI / 180) * R];
}
function shape_of(geometry, radius) {
  if (geometry.type === 'Point') return { pts: [geometry.coordinates], r: radius || 0, rings: null };
  const rings = geometry.type === 'Polygon' ? [geometry.coordinates[0]] : geometry.coordinates.map((p) => p[0]);
  return { pts: null, r: 0, rings };
}
function seg_dist(p, a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const l2 = dx * dx + dy * dy;
  let t = l2 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2 : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}
function inside(p, ring) {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > p[1]) !== (yj > p[1]) && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}
function separation(a, b) {
  const lat0 = (a.pts ? a.pts[0][1] : a.rings[0][0][1]);
  const P = (c) => proj(c[0], c[1], lat0);
  const ar = a.rings && a.rings.map((r) => r.map(P));
  const br = b.rings && b.rings.map((r) => r.map(P));
  let d;
  if (a.pts && b.pts) d = Math.hypot(...[0, 1].map((k) => P(a.pts[0])[k] - P(b.pts[0])[k]));
  else if (a.pts || b.pts) {
    const p = P((a.pts || b.pts)[0]);
    const rings = ar || br;
    d = Infinity;
    for (const r of rings) {
      if (inside(p, r)) { d = 0; break; }
      for (let i = 0; i + 1 < r.length; i++) d = Math.min(d, seg_dist(p, r[i], r[i + 1]));
    }
  } else {
    d = Infinity;
    for (const r1 of ar) for (const r2 of br) {
      if (inside(r1[0], r2) || inside(r2[0], r1)) { d = 0; continue; }
      for (const p of r1) for (let i = 0; i + 1 < r2.length; i++) d = Math.min(d, seg_dist(p, r2[i], r2[i + 1]));
      for (const p of r2) for (let i = 0; i + 1 < r1.length; i++) d = Math.min(d, seg_dist(p, r1[i], r1[i + 1]));
    }
  }
  return Math.max(0, d - a.r - b.r);
}

const HAZ = new Set(['strike', 'artillery', 'demolition']);
const altOverlap = (a, b) => (a.alt_lower_m ?? -Infinity) <= (b.alt_upper_m ?? Infinity) && (b.alt_lower_m ?? -Infinity) <= (a.alt_upper_m ?? Infinity);
const timeOverlap = (a, b) => Date.parse(a.start) < Date.parse(b.end) && Date.parse(b.start) < Date.parse(a.end);

// pair_conflicts returns [{other, severity, distance_m, window}] for op H against everything of other parties.
function op_conflicts(h) {
  const out = [];
  const current = (v) => Date.parse(v.end) > now();
  const vols = h.volumes.filter(current);
  if (!vols.length || h.state === 'ended' || h.state === 'cancelled') return out;
  const haz = HAZ.has(h.kind);
  if (haz) {
    for (const u of units) {
      if (u.owner === h.owner || !u.position) continue;
      let best = null;
      for (const v of vols) {
        if (!(Date.parse(v.end) > Date.parse(u.position.time))) continue;
        if (u.domain === 'air' && u.position.alt_m != null && !altOverlap(v, { alt_lower_m: u.position.alt_m, alt_upper_m: u.position.alt_m })) continue;
        const d = separation(shape_of(v.geometry, v.radius_m), shape_of({ type: 'Point', coordinates: [u.position.lon, u.position.lat] }, u.position.ce_m));
        if (d <= h.hazard_m + h.warning_m && (!best || d < best.d)) best = { d, v };
      }
      if (best) {
        const stale = (now() - Date.parse(u.position.time)) / 1000 > parties.get(u.owner).stale_after_s;
        out.push({ type: 'unit', obj: u, d: best.d, v: best.v, critical: best.d <= h.hazard_m, stale });
      }
    }
    for (const s of sites) {
      if (s.owner === h.owner) continue;
      let best = null;
      for (const v of vols) {
        const d = separation(shape_of(v.geometry, v.radius_m), shape_of(s.geometry, s.radius_m));
        if (d <= h.hazard_m + s.standoff_m + h.warning_m && (!best || d < best.d)) best = { d, v };
      }
      if (best) out.push({ type: 'site', obj: s, d: best.d, v: best.v, critical: best.d <= h.hazard_m + s.standoff_m });
    }
  }
  for (const o of operations) {
    if (o.owner === h.owner || o.state === 'ended' || o.state === 'cancelled' || o.id === h.id && o.owner === h.owner) continue;
    const oh = HAZ.has(o.kind);
    let thr, crit;
    if (haz || oh) {
      const hz = haz && oh ? Math.max(h.hazard_m, o.hazard_m) : haz ? h.hazard_m : o.hazard_m;
      const wn = haz && oh ? Math.max(h.warning_m, o.warning_m) : haz ? h.warning_m : o.warning_m;
      thr = hz + wn; crit = hz;
    } else if (h.kind === 'air-transit' && o.kind === 'air-transit') {
      thr = Math.max(h.warning_m, o.warning_m); crit = 0;
    } else continue;
    let best = null;
    for (const v of vols) for (const w of o.volumes.filter(current)) {
      if (!timeOverlap(v, w) || !altOverlap(v, w)) continue;
      const d = separation(shape_of(v.geometry, v.radius_m), shape_of(w.geometry, w.radius_m));
      if (d <= thr && (!best || d < best.d)) best = { d, v };
    }
    if (best) out.push({ type: 'operation', obj: o, d: best.d, v: best.v, critical: best.d <= crit });
  }
  return out;
}

// ---- conflicts ----------------------------------------------------------
const conflicts = new Map(); // key -> conflict record
let nextConflict = 1;
const events = new Map([...parties.keys()].map((p) => [p, []]));
const streams = new Set();

function emit(party, data) {
  const list = events.get(party);
  const ev = { seq: list.length + 1, time: iso(now()), ...data };
  list.push(ev);
  for (const s of streams) if (s.party === party) s.send(ev);
}

function geometry_of(type, obj) {
  if (type === 'unit') return { geometry: { type: 'Point', coordinates: [obj.position.lon, obj.position.lat] }, ce_m: obj.position.ce_m };
  if (type === 'site') return { geometry: obj.geometry, radius_m: obj.radius_m };
  return { volumes: obj.volumes };
}

function view(c, party) {
  const mine = c.a.owner === party ? c.a : c.b;
  const other = mine === c.a ? c.b : c.a;
  return {
    id: c.id, state: c.state, severity: c.severity, stale: c.stale, distance_m: Math.round(c.distance_m * 10) / 10,
    window: c.window, opened_at: c.opened_at, resolved_at: c.resolved_at,
    mine: { type: mine.type, id: mine.obj.id },
    other: { party: other.owner, type: other.type, id: other.obj.id, kind: other.obj.kind, ...geometry_of(other.type, other.obj) },
    acks: c.acks,
  };
}

function candidate_list(extraOp) {
  const found = new Map();
  const ops = extraOp ? [extraOp] : operations;
  for (const h of ops) {
    for (const f of op_conflicts(h)) {
      const a = { owner: h.owner, type: 'operation', obj: h };
      const b = { owner: f.obj.owner, type: f.type, obj: f.obj };
      const ka = `${a.owner}/${a.type}/${a.obj.id}`, kb = `${b.owner}/${b.type}/${b.obj.id}`;
      const key = ka < kb ? `${ka}|${kb}` : `${kb}|${ka}`;
      if (found.has(key) && found.get(key).d <= f.d) continue;
      found.set(key, { key, a, b, d: f.d, critical: f.critical, stale: !!f.stale, v: f.v });
    }
  }
  return found;
}

function recompute() {
  const found = candidate_list();
  const opened = [];
  for (const [key, f] of found) {
    let c = conflicts.get(key);
    const sev = f.critical ? 'critical' : 'warning';
    if (!c || c.state !== 'open') {
      c = {
        id: `c-${nextConflict++}`, key, state: 'open', a: f.a, b: f.b, severity: sev, stale: f.stale,
        distance_m: f.d, window: { start: f.v.start, end: f.v.end }, opened_at: iso(now()), resolved_at: null,
        acks: { [f.a.owner]: null, [f.b.owner]: null },
      };
      conflicts.set(key, c);
      opened.push(c);
      for (const p of [f.a.owner, f.b.owner]) emit(p, { type: 'opened', conflict: view(c, p) });
    } else if (c.severity !== sev || Math.abs(c.distance_m - f.d) > 0.5) {
      c.severity = sev; c.distance_m = f.d;
      for (const p of [c.a.owner, c.b.owner]) emit(p, { type: 'changed', conflict: view(c, p) });
    }
  }
  for (const c of conflicts.values()) {
    if (c.state === 'open' && !found.has(c.key)) {
      c.state = 'resolved'; c.resolved_at = iso(now());
      for (const p of [c.a.owner, c.b.owner]) emit(p, { type: 'resolved', conflict: view(c, p) });
    }
  }
  return opened;
}
recompute();

// ---- HTTP ----------------------------------------------------------------
function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}
const err = (res, status, code, message, field) => send(res, status, { error: { code, message, ...(field ? { field } : {}) } });

function who(req) {
  const h = req.headers.authorization || '';
  const m = /^Bearer (.+)$/.exec(h);
  const token = m ? m[1] : new URL(req.url, 'http://x').searchParams.get('access_token');
  for (const p of parties.values()) if (p.token === token) return p.id;
  return null;
}
const shared = (from, to, what) => sharing.some((s) => s.from === from && s.to === to && s[what]);

async function read_json(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  if (!chunks.length) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png' };

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  try {
    if (path === '/healthz') return send(res, 200, { status: 'ok', clock: iso(now()) });
    if (!path.startsWith('/v1/')) {
      const file = normalize(join(webDir, path === '/' ? 'index.html' : path));
      if (!file.startsWith(normalize(webDir)) || !existsSync(file) || !statSync(file).isFile()) return err(res, 404, 'not_found', 'no such file');
      res.writeHead(200, { 'Content-Type': MIME[extname(file)] || 'application/octet-stream' });
      return res.end(readFileSync(file));
    }
    const me = who(req);
    if (!me) return err(res, 401, 'unauthorized', 'no or bad token');
    let m;
    if (req.method === 'GET' && path === '/v1/parties') {
      return send(res, 200, { parties: [...parties.values()].map((p) => ({ id: p.id, name: p.name })) });
    }
    if (req.method === 'GET' && path === '/v1/conflicts') {
      const st = url.searchParams.get('state');
      const list = [...conflicts.values()].filter((c) => (c.a.owner === me || c.b.owner === me) && (!st || c.state === st));
      return send(res, 200, { conflicts: list.map((c) => view(c, me)) });
    }
    if (req.method === 'POST' && (m = /^\/v1\/conflicts\/([^/]+)\/ack$/.exec(path))) {
      const c = [...conflicts.values()].find((x) => x.id === m[1]);
      if (!c) return err(res, 404, 'not_found', 'no such conflict');
      if (c.a.owner !== me && c.b.owner !== me) return err(res, 403, 'forbidden', 'not a side');
      c.acks[me] = iso(now());
      for (const p of [c.a.owner, c.b.owner]) emit(p, { type: 'acked', by: me, conflict: view(c, p) });
      const rec = 1000 + events.get(me).length;
      const hash = randomBytes(32).toString('hex');
      return send(res, 200, { conflict: view(c, me), receipt: { conflict: c.id, party: me, time: c.acks[me], record: rec, hash }, record: rec, hash });
    }
    if (req.method === 'GET' && path === '/v1/units') {
      return send(res, 200, { units: units.filter((u) => u.owner === me || shared(u.owner, me, 'units')).map(({ owner, ...u }) => ({ ...u, party: owner })) });
    }
    if (req.method === 'GET' && path === '/v1/sites') {
      return send(res, 200, { sites: sites.filter((s) => s.owner === me || s.disclose === 'all').map(({ owner, ...x }) => ({ ...x, party: owner })) });
    }
    if (req.method === 'GET' && path === '/v1/operations') {
      return send(res, 200, { operations: operations.filter((o) => o.owner === me || shared(o.owner, me, 'operations')).map(({ owner, ...o }) => ({ ...o, party: owner })) });
    }
    if (req.method === 'POST' && (path === '/v1/check' || path === '/v1/operations')) {
      const body = await read_json(req);
      if (!body.id || !Array.isArray(body.volumes) || !body.volumes.length) return err(res, 422, 'invalid', 'id and volumes required', 'volumes');
      const op = { state: 'planned', hazard_m: 0, ...body, warning_m: body.warning_m ?? body.hazard_m ?? 0, owner: me };
      if (path === '/v1/check') {
        const found = candidate_list(op);
        const list = [...found.values()].map((f) => view({
          id: null, state: 'open', a: f.a, b: f.b, severity: f.critical ? 'critical' : 'warning', stale: f.stale,
          distance_m: f.d, window: { start: f.v.start, end: f.v.end }, opened_at: null, resolved_at: null, acks: {},
        }, me));
        return send(res, 200, { conflicts: list });
      }
      if (operations.some((o) => o.owner === me && o.id === op.id)) return err(res, 409, 'exists', 'operation id in use', 'id');
      operations.push(op);
      const opened = recompute().filter((c) => c.a.obj === op || c.b.obj === op);
      return send(res, 201, { operation: op, conflicts: opened.map((c) => view(c, me)) });
    }
    if (req.method === 'POST' && (m = /^\/v1\/operations\/([^/]+)\/(activate|end|cancel)$/.exec(path))) {
      const op = operations.find((o) => o.owner === me && o.id === decodeURIComponent(m[1]));
      if (!op) return err(res, 404, 'not_found', 'no such operation');
      const body = await read_json(req);
      if (m[2] === 'activate') {
        if (op.state !== 'planned') return err(res, 409, 'state', `operation is ${op.state}`);
        const blocking = [...conflicts.values()].filter((c) => c.state === 'open' && c.severity === 'critical' &&
          (c.a.obj === op || c.b.obj === op) && !(c.acks[c.a.owner] && c.acks[c.b.owner]));
        if (blocking.length && !(body.override && body.override.reason)) {
          const list = blocking.map((c) => view(c, me));
          return send(res, 409, { error: { code: 'interlock', message: 'critical conflicts not acknowledged by both sides', blocking: list }, blocking: list });
        }
        op.state = 'active';
        for (const c of blocking) for (const p of [c.a.owner, c.b.owner]) emit(p, { type: 'overridden', by: me, reason: body.override.reason, conflict: view(c, p) });
      } else op.state = m[2] === 'end' ? 'ended' : 'cancelled';
      recompute();
      return send(res, 200, op);
    }
    if (req.method === 'GET' && path === '/v1/events/stream') {
      const last = Number(req.headers['last-event-id'] || 0);
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
      const s = {
        party: me,
        send(ev) { res.write(`id: ${ev.seq}\nevent: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`); },
      };
      for (const ev of events.get(me).filter((e) => e.seq > last)) s.send(ev);
      streams.add(s);
      const ka = setInterval(() => res.write(': keep-alive\n\n'), 15000);
      req.on('close', () => { clearInterval(ka); streams.delete(s); });
      return;
    }
    return err(res, 404, 'not_found', `no route ${req.method} ${path}`);
  } catch (e) {
    return err(res, 400, 'bad_request', String(e.message || e));
  }
});

server.listen(Number(port), host, () => {
  console.log(`deconflict mock listening on http://${host}:${port}`);
  for (const p of parties.values()) console.log(`${p.id}: http://${host}:${port}/#party=${p.id}&token=${p.token}`);
});
