// main.js: the page. Signs in, loads what the party may see, keeps the
// conflict panel live over the event stream, and shows the service's clock.
// The data flow is one way: fetch -> state -> render (panel and map); an
// event on the stream only schedules a fresh fetch, so the page always shows
// what the service says now, whatever order events arrive in.

import { api_create, api_health, api_list } from './api.js';
import { auth_take_from_location, auth_load, auth_save, auth_clear } from './auth.js';
import { sse_open } from './sse.js';
import { map_create } from './map.js';
import { el, conflict_item } from './panel.js';
import { draft_create } from './draft.js';
import {
  model_conflict_key, model_sort_conflicts, model_owner, model_unit_position,
  model_age_s, model_unit_stale, fmt_age, fmt_time, fmt_window,
} from './model.js';
import './app.css';

const $ = (id) => document.getElementById(id);

const state = {
  me: '',
  api: null,
  parties: new Map(),
  units: [],
  sites: [],
  operations: [],
  conflicts: [],
  selected: null,
  flash: new Map(),
  clock: { serviceMs: NaN, atPerf: 0, fromService: false, hintMs: NaN },
  stream: null,
  staleAfter: 600,
};

// clock_ms is the service's clock now, or null when the service has not
// told it (the browser's own clock would be wrong in an exercise).
function clock_ms() {
  if (Number.isFinite(state.clock.serviceMs)) {
    return state.clock.serviceMs + (performance.now() - state.clock.atPerf);
  }
  return null;
}

// clock_guess_ms is for defaults only (a draft's window): the service clock,
// else the latest time the service has mentioned, else the browser's.
function clock_guess_ms() {
  const c = clock_ms();
  if (c !== null) return c;
  return Number.isFinite(state.clock.hintMs) ? state.clock.hintMs : Date.now();
}

function clock_hint(t) {
  const ms = Date.parse(t);
  if (Number.isFinite(ms) && !(ms <= state.clock.hintMs)) state.clock.hintMs = ms;
}

let toastTimer = null;
function toast(msg, kind = 'info') {
  const t = $('toast');
  t.textContent = msg;
  t.className = `show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = ''; }, 5000);
}

function party_name(id) {
  return state.parties.get(id) || '';
}

// ---- clock ---------------------------------------------------------------

async function clock_refresh() {
  try {
    const h = await api_health();
    const t = Date.parse(h.data.clock || h.data.time || h.data.now);
    if (Number.isFinite(t)) {
      state.clock = { ...state.clock, serviceMs: t, atPerf: performance.now(), fromService: true };
    }
    $('clock-box').classList.toggle('down', !h.ok);
  } catch {
    $('clock-box').classList.add('down');
  }
  clock_tick();
}

function clock_tick() {
  const c = $('clock');
  c.textContent = state.clock.fromService ? fmt_time(clock_ms(), true) : 'unknown';
  c.title = state.clock.fromService ? '' : 'The service did not report its clock (GET /healthz)';
  c.dateTime = state.clock.fromService ? new Date(clock_ms()).toISOString() : '';
}

// ---- data ----------------------------------------------------------------

async function load_conflicts() {
  const data = await state.api.conflicts();
  const next = api_list(data, 'conflicts').filter((c) => !c.state || c.state === 'open');
  const prev = new Map(state.conflicts.map((c) => [model_conflict_key(c), c]));
  const now = performance.now();
  for (const c of next) {
    const key = model_conflict_key(c);
    const p = prev.get(key);
    if (state.conflicts.length && (!p || JSON.stringify(p.acks) !== JSON.stringify(c.acks) ||
        p.severity !== c.severity)) {
      state.flash.set(key, now);
    }
  }
  state.conflicts = next;
  for (const c of next) clock_hint(c.opened_at);
  if (!state.me) infer_me();
}

async function load_objects() {
  const [u, s, o] = await Promise.allSettled([state.api.units(), state.api.sites(), state.api.operations()]);
  if (u.status === 'fulfilled') state.units = api_list(u.value, 'units');
  if (s.status === 'fulfilled') state.sites = api_list(s.value, 'sites');
  if (o.status === 'fulfilled') state.operations = api_list(o.value, 'operations');
  const failed = [u, s, o].filter((r) => r.status === 'rejected');
  if (failed.length) toast(`Could not load: ${failed.map((r) => r.reason.message).join('; ')}`, 'bad');
}

async function load_parties() {
  try {
    const data = await state.api.parties();
    for (const p of api_list(data, 'parties')) {
      state.parties.set(p.id, p.name || '');
      if (p.id === state.me && typeof p.stale_after_s === 'number') state.staleAfter = p.stale_after_s;
    }
  } catch {
    // names are a nicety; ids are shown regardless
  }
}

// infer_me finds the signed-in party when only a token was given: the side
// of a conflict that is not `other`, or the owner of a listed object.
function infer_me() {
  for (const c of state.conflicts) {
    const other = c.other && c.other.party;
    const sides = Object.keys(c.acks || {}).filter((p) => p !== other);
    if (sides.length === 1) {
      state.me = sides[0];
      return;
    }
  }
  // No conflicts yet: if every listed object has one owner, that is us.
  const owners = new Set([...state.units, ...state.sites, ...state.operations]
    .map((o) => o.owner || o.party).filter(Boolean));
  if (owners.size === 1) state.me = [...owners][0];
}

let refreshTimer = null;
let objectsDue = false;
// refresh_soon coalesces bursts of events into one fetch.
function refresh_soon(objects) {
  objectsDue = objectsDue || objects;
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    const withObjects = objectsDue;
    objectsDue = false;
    try {
      await Promise.all([load_conflicts(), withObjects ? load_objects() : null]);
    } catch (err) {
      toast(err.message, 'bad');
    }
    render();
  }, 150);
}

// ---- rendering -----------------------------------------------------------

let mapView = null;

function render() {
  render_header();
  render_conflicts();
  render_objects();
  mapView.render({
    me: state.me, clockMs: clock_ms(), staleAfter: state.staleAfter,
    units: state.units, sites: state.sites, operations: state.operations, conflicts: state.conflicts,
  });
}

function render_header() {
  const name = party_name(state.me);
  $('who').replaceChildren(el('span', { class: 'k' }, 'Signed in as'), ' ',
    el('strong', { 'data-testid': 'party-id' }, state.me || '?'), name ? ` — ${name}` : '');
}

function render_conflicts() {
  const list = model_sort_conflicts(state.conflicts);
  const crit = list.filter((c) => c.severity === 'critical').length;
  const unacked = list.filter((c) => !(c.acks && c.acks[state.me])).length;
  $('conflict-count').textContent = String(list.length);
  $('conflict-count').className = `count${crit ? ' critical' : list.length ? ' warning' : ''}`;
  $('conflict-summary').textContent = list.length === 0 ? 'No open conflicts.'
    : `${list.length} open conflict${list.length === 1 ? '' : 's'}: ${crit} critical, ${list.length - crit} warning; ${unacked} not yet acknowledged by you.`;
  const now = performance.now();
  const items = list.map((c) => {
    const key = model_conflict_key(c);
    const f = state.flash.get(key);
    const flash = f !== undefined && now - f < 6000;
    if (f !== undefined && !flash) state.flash.delete(key);
    return conflict_item(c, state.me, {
      partyName: party_name,
      selected: state.selected === key,
      flash,
      onSelect: select_conflict,
      onAck: ack_conflict,
    });
  });
  $('conflict-list').replaceChildren(...items);
}

function select_conflict(c) {
  state.selected = model_conflict_key(c);
  render_conflicts();
  if (!mapView.select_conflict(c)) toast('This conflict has no shape to show on the map.', 'info');
}

async function ack_conflict(c, button) {
  button.disabled = true;
  button.textContent = 'Acknowledging…';
  try {
    const res = await state.api.ack(c.id);
    const r = (res && (res.receipt || res)) || {};
    let rec = r.record ?? res?.record;
    let hash = r.hash ?? res?.hash;
    if (rec && typeof rec === 'object') {
      hash = hash ?? rec.hash;
      rec = rec.seq ?? rec.index ?? rec.id;
    }
    const proof = rec !== undefined ? ` — receipt: log record ${rec}${hash ? `, hash ${String(hash).slice(0, 16)}…` : ''}` : '';
    toast(`Acknowledged ${c.id}${proof}`, 'good');
  } catch (err) {
    toast(`Acknowledge failed: ${err.message}`, 'bad');
  }
  refresh_soon(false);
}

// obj_row is one listed object; clicking it (not its buttons) shows it on the map.
function obj_row(parts, actions, shapes, id) {
  const li = el('li', { 'data-id': id, class: shapes ? 'zoomable' : null, title: shapes ? 'Show on the map' : null },
    el('div', { class: 'row' }, ...parts), actions || null);
  if (shapes) {
    li.addEventListener('click', (e) => {
      if (!e.target.closest('button')) mapView.zoom_to(shapes);
    });
  }
  return li;
}

function render_objects() {
  const me = state.me;
  const clock = clock_ms();
  const ops = state.operations.filter((o) => model_owner(o, me) === me);
  $('op-list').replaceChildren(...(ops.length ? ops.map((o) => {
    const st = o.state || 'planned';
    const acts = el('div', { class: 'actions' });
    if (st === 'planned') acts.append(el('button', { type: 'button', onclick: () => activate(o.id), 'data-testid': 'activate' }, 'Activate'));
    if (st === 'active') acts.append(el('button', { type: 'button', onclick: () => op_action(o.id, 'end') }, 'End'));
    if (st === 'planned' || st === 'active') acts.append(el('button', { type: 'button', onclick: () => op_action(o.id, 'cancel') }, 'Cancel'));
    const w = (o.volumes || [])[0];
    return obj_row([
      el('strong', { class: 'oid' }, o.id), ` ${o.kind || ''} `,
      el('span', { class: `badge state-${st}`, 'data-testid': 'op-state' }, st.toUpperCase()),
      w ? el('div', { class: 'sub' }, fmt_window(w)) : null,
    ], acts, (o.volumes || []).map((v) => ({ geometry: v.geometry, radius_m: v.radius_m })), o.id);
  }) : [el('li', { class: 'hint' }, 'None.')]));
  $('unit-list').replaceChildren(...(state.units.length ? state.units.map((u) => {
    const owner = model_owner(u, me);
    const p = model_unit_position(u);
    const age = p && clock !== null ? model_age_s(p.time, clock) : null;
    const stale = model_unit_stale(u, age, state.staleAfter);
    return obj_row([
      owner !== me ? el('span', { class: 'badge shared' }, owner) : null, owner !== me ? ' ' : '',
      el('strong', { class: 'oid' }, u.id), ` ${u.callsign || ''} · ${u.domain || ''} · `,
      !p ? 'no position' : age !== null ? `reported ${fmt_age(age)} ago` : `reported ${fmt_time(p.time)}`,
      stale ? ' ' : null, stale ? el('span', { class: 'badge stale' }, 'STALE') : null,
    ], null, p ? [{ geometry: { type: 'Point', coordinates: [p.lon, p.lat] }, radius_m: Math.max(p.ce_m, 300) }] : null, u.id);
  }) : [el('li', { class: 'hint' }, 'None.')]));
  $('site-list').replaceChildren(...(state.sites.length ? state.sites.map((s) => {
    const owner = model_owner(s, me);
    return obj_row([
      owner !== me ? el('span', { class: 'badge shared' }, owner) : null, owner !== me ? ' ' : '',
      el('strong', { class: 'oid' }, s.id), ` ${s.name || ''} · ${s.category || ''}`,
    ], null, s.geometry ? [{ geometry: s.geometry, radius_m: Math.max(s.radius_m || 0, 200) }] : null, s.id);
  }) : [el('li', { class: 'hint' }, 'None.')]));
}

const EVENT_WORDS = {
  opened: 'Opened', changed: 'Changed', acked: 'Acknowledged', acknowledged: 'Acknowledged',
  overridden: 'Overridden', resolved: 'Resolved',
};

// event_text describes a stream event in one line for the live feed.
function event_text(type, c, data) {
  let t = EVENT_WORDS[type] || type;
  if (c) {
    t += ` ${c.id || ''}`;
    if (c.severity) t += ` (${c.severity})`;
    const o = c.other || {};
    if (o.id) t += `: ${o.party || '?'} ${o.id} ↔ ${(c.mine && c.mine.id) || '?'}`;
  }
  if (data && data.by) t += ` — by ${data.by}`;
  if (data && data.reason) t += ` — reason: ${data.reason}`;
  return t;
}

function feed_add(text, time) {
  const f = $('feed');
  const t = time && Number.isFinite(Date.parse(time)) ? Date.parse(time) : clock_guess_ms();
  f.prepend(el('li', null, el('time', null, fmt_time(t, true).slice(11)), ' ', text));
  while (f.children.length > 30) f.lastChild.remove();
}

// ---- operations: activation and the interlock ----------------------------

function blocking_conflicts(body) {
  if (!body) return [];
  return body.conflicts || body.blocking || (body.error && (body.error.conflicts || body.error.blocking)) || [];
}

async function activate(id, reason) {
  try {
    await state.api.activate(id, reason);
    $('interlock').hidden = true;
    toast(reason ? `${id} activated by override; the override is recorded and notified.` : `${id} activated.`, reason ? 'bad' : 'good');
    refresh_soon(true);
  } catch (err) {
    if (err.status === 409 && blocking_conflicts(err.body).length) {
      show_interlock(id, err);
    } else if (reason) {
      $('interlock-error').textContent = err.message;
    } else {
      toast(`Activation of ${id} refused: ${err.message}`, 'bad');
    }
  }
}

function show_interlock(id, err) {
  const cs = blocking_conflicts(err.body);
  $('interlock-msg').textContent = `${id} cannot go active. The service says: ${err.message} Blocking conflict${cs.length === 1 ? '' : 's'}:`;
  $('interlock-list').replaceChildren(...cs.map((c) => conflict_item(c, state.me, { compact: true, partyName: party_name })));
  $('interlock-error').textContent = '';
  $('interlock-reason').value = '';
  $('interlock').dataset.op = id;
  $('interlock').hidden = false;
  $('interlock-reason').focus();
}

async function op_action(id, what) {
  try {
    if (what === 'end') await state.api.end_operation(id);
    else await state.api.cancel_operation(id);
    toast(`${id}: ${what === 'end' ? 'ended' : 'cancelled'}`, 'good');
  } catch (err) {
    toast(`${id}: ${err.message}`, 'bad');
  }
  refresh_soon(true);
}

// ---- tabs ----------------------------------------------------------------

function tabs() {
  for (const b of document.querySelectorAll('[role=tab]')) {
    b.addEventListener('click', () => {
      for (const o of document.querySelectorAll('[role=tab]')) {
        o.setAttribute('aria-selected', String(o === b));
        $(`tab-${o.dataset.tab}`).hidden = o !== b;
      }
    });
  }
}

// ---- sign-in and start ---------------------------------------------------

function sign_out() {
  if (state.stream) state.stream.stop();
  auth_clear();
  window.location.replace(window.location.pathname);
}

function show_signin(message) {
  $('layout').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('signin-token').focus();
}

async function start(session) {
  let unauthorized = false;
  state.me = session.party || '';
  state.api = api_create(session.token, () => {
    if (unauthorized) return;
    unauthorized = true;
    if (state.stream) state.stream.stop();
    auth_clear();
    show_signin('The service refused this token. Sign in again.');
  });
  try {
    await load_conflicts();
  } catch (err) {
    if (err.status !== 401) show_signin(`Cannot reach the service: ${err.message}`);
    return;
  }
  auth_save({ party: state.me, token: session.token });
  $('signin').hidden = true;
  $('layout').hidden = false;
  $('signout').hidden = false;
  document.body.dataset.party = state.me;

  if (!mapView) {
    mapView = map_create($('map'), {
      onSelectConflict: (key) => {
        const c = state.conflicts.find((x) => model_conflict_key(x) === key);
        if (c) {
          select_conflict(c);
          const li = document.querySelector(`#conflict-list li[data-key="${CSS.escape(key)}"]`);
          if (li) li.scrollIntoView({ block: 'nearest' });
        }
      },
    });
    draft_create({
      map: mapView.map,
      api: { check: (op) => state.api.check(op), file_operation: (op) => state.api.file_operation(op) },
      get me() { return state.me; },
      clockMs: clock_guess_ms, partyName: party_name,
      onFiled: () => refresh_soon(true), activate: (id) => activate(id), toast,
    });
  }
  await Promise.all([load_objects(), load_parties()]);
  if (!state.me) {
    infer_me();
    auth_save({ party: state.me, token: session.token });
  }
  render();
  document.body.dataset.ready = 'yes';

  state.stream = sse_open({
    url: '/v1/events/stream',
    token: session.token,
    onStatus: (s) => {
      const box = $('stream');
      box.dataset.state = s;
      box.textContent = { live: 'live', connecting: 'connecting…', retrying: 'reconnecting…', unauthorized: 'refused' }[s] || s;
      if (s === 'live') refresh_soon(true);
      if (s === 'unauthorized') state.api.conflicts().catch(() => {});
    },
    onEvent: (ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch { /* not JSON: still a change */ }
      const type = String((data && (data.type || data.event || data.kind)) || ev.event).replace(/^conflict\./, '');
      const c = data && (data.conflict || (data.id && data.severity ? data : null));
      document.body.dataset.lastEvent = ev.id || '';
      if (data) clock_hint(data.time);
      feed_add(event_text(type, c, data), data && data.time);
      refresh_soon(!c || !/^ack/.test(type));
    },
  });
}

function boot() {
  tabs();
  $('signout').addEventListener('click', sign_out);
  $('interlock-close').addEventListener('click', () => { $('interlock').hidden = true; });
  $('interlock-override').addEventListener('click', () => {
    const reason = $('interlock-reason').value.trim();
    if (!reason) {
      $('interlock-error').textContent = 'An override needs a reason.';
      return;
    }
    activate($('interlock').dataset.op, reason);
  });
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('signin-token').value.trim();
    if (!token) return;
    $('signin-token').value = '';
    start({ token, party: $('signin-party').value.trim() });
  });

  clock_refresh();
  setInterval(clock_refresh, 5000);
  setInterval(clock_tick, 1000);
  // A slow safety net under the stream: positions age and move.
  setInterval(() => { if (state.api && !$('layout').hidden) refresh_soon(true); }, 30000);

  const session = auth_take_from_location() || auth_load();
  if (session) start(session);
  else show_signin();
}

window.addEventListener('hashchange', () => {
  const s = auth_take_from_location();
  if (s) {
    if (state.stream) state.stream.stop();
    window.location.reload();
  }
});

boot();
