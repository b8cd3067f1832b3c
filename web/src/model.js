// model.js: reading the service's objects tolerantly and formatting them
// for people. The page must keep working if the service adds fields, so
// every reader here looks for the fields SPEC names and ignores the rest.

// model_unit_position returns {lon, lat, alt_m, ce_m, time} for a unit's
// last report, or null when it has none. Accepts the report nested under
// `position` (or `last_position`, `report`), or flat on the unit.
export function model_unit_position(u) {
  const p = u.position || u.last_position || u.report || u.last_report || u;
  let lon = p.lon;
  let lat = p.lat;
  if ((lon === undefined || lat === undefined) && p.geometry && p.geometry.type === 'Point') {
    [lon, lat] = p.geometry.coordinates;
  }
  if (typeof lon !== 'number' || typeof lat !== 'number') return null;
  return {
    lon, lat,
    alt_m: typeof p.alt_m === 'number' ? p.alt_m : null,
    ce_m: typeof p.ce_m === 'number' ? p.ce_m : 0,
    time: p.time || u.time || null,
  };
}

// model_owner returns the owning party of a listed object; objects without
// an owner field are the caller's own (the service lists own objects).
export function model_owner(obj, me) {
  return obj.owner || obj.party || me;
}

// model_age_s returns seconds between an RFC 3339 time and the clock.
export function model_age_s(time, clockMs) {
  const t = Date.parse(time);
  if (!Number.isFinite(t) || !Number.isFinite(clockMs)) return null;
  return (clockMs - t) / 1000;
}

// model_unit_stale: the service's own verdict when it gives one (it knows
// the owner's stale_after_s and its clock), else age against staleAfter.
export function model_unit_stale(u, age_s, staleAfter) {
  if (typeof u.stale === 'boolean') return u.stale;
  return age_s !== null && age_s !== undefined && age_s > (u.stale_after_s ?? staleAfter ?? 600);
}

// fmt_age renders a duration in seconds compactly: "45 s", "12 min", "16 h 5 min", "3 d".
export function fmt_age(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '?';
  const neg = s < 0;
  s = Math.abs(s);
  let out;
  if (s < 90) out = `${Math.round(s)} s`;
  else if (s < 3600) out = `${Math.round(s / 60)} min`;
  else if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    out = m ? `${h} h ${m} min` : `${h} h`;
  } else out = `${Math.round(s / 86400)} d`;
  return neg ? `in ${out}` : out;
}

// fmt_distance renders metres: "212 m", "1.35 km".
export function fmt_distance(m) {
  if (typeof m !== 'number' || !Number.isFinite(m)) return '?';
  if (m < 1000) return `${Math.round(m)} m`;
  return `${(m / 1000).toFixed(m < 10000 ? 2 : 1)} km`;
}

// fmt_time renders an RFC 3339 time in UTC as "2017-02-09 05:00Z"; with
// seconds=true as "05:00:12Z" style including seconds.
export function fmt_time(t, seconds = false) {
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return t ? String(t) : '—';
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)}Z`;
}

// fmt_window renders a time window compactly, dropping the second date when
// it is the same day: "2017-02-09 05:00Z – 06:00Z".
export function fmt_window(w) {
  if (!w || (!w.start && !w.end)) return '—';
  const a = fmt_time(w.start);
  const b = fmt_time(w.end);
  if (a.slice(0, 10) === b.slice(0, 10)) return `${a} – ${b.slice(11)}`;
  return `${a} – ${b}`;
}

// model_conflict_key identifies a conflict for the panel: its id, or the
// pair of objects for answers (like /v1/check) that have none.
export function model_conflict_key(c) {
  if (c.id) return String(c.id);
  const o = c.other || {};
  const m = c.mine || {};
  return `${m.type}:${m.id}|${o.party}:${o.type}:${o.id}`;
}

// model_ack_state summarises acks: [{party, at}] in a stable order, mine first.
export function model_acks(c, me) {
  const acks = c.acks || {};
  const parties = Object.keys(acks);
  const other = c.other && c.other.party;
  if (me && !parties.includes(me)) parties.push(me);
  if (other && !parties.includes(other)) parties.push(other);
  parties.sort((a, b) => (a === me ? -1 : b === me ? 1 : a.localeCompare(b)));
  return parties.map((p) => ({ party: p, at: acks[p] || null }));
}

// model_sort_conflicts: critical first, then nearest, then id.
export function model_sort_conflicts(list) {
  const rank = (c) => (c.severity === 'critical' ? 0 : 1);
  return list.slice().sort((a, b) =>
    rank(a) - rank(b) ||
    (a.distance_m ?? Infinity) - (b.distance_m ?? Infinity) ||
    model_conflict_key(a).localeCompare(model_conflict_key(b)));
}

export const HAZARDOUS = new Set(['strike', 'artillery', 'demolition']);
export const OP_KINDS = ['strike', 'artillery', 'demolition', 'air-transit', 'ground-move', 'convoy', 'other'];
