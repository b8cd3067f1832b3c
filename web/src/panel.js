// panel.js: one conflict as a list entry, for the live panel, for the
// results of a draft's check and for the interlock's refusal. Built with
// DOM text nodes only: ids come from other parties and are never HTML.

import { fmt_distance, fmt_window, fmt_time, model_acks, model_conflict_key } from './model.js';

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function row(k, ...v) {
  return el('div', { class: 'row' }, el('span', { class: 'k' }, k), ' ', ...v);
}

function obj_text(o) {
  if (!o) return '?';
  return `${o.type || 'object'} ${o.id || '?'}${o.kind ? ` (${o.kind})` : ''}`;
}

// conflict_item renders conflict c as seen by party me.
//   opts.partyName(id) -> display name; opts.onAck(c, button); opts.onSelect(c);
//   opts.selected, opts.flash: booleans; opts.compact: no ack button.
export function conflict_item(c, me, opts = {}) {
  const key = model_conflict_key(c);
  const sev = c.severity === 'critical' ? 'critical' : 'warning';
  const other = c.other || {};
  const acks = model_acks(c, me);
  const myAck = acks.find((a) => a.party === me);
  const partyName = opts.partyName || ((p) => p);

  const head = el('div', { class: 'head' },
    el('span', { class: `badge ${sev}`, 'data-testid': 'severity' }, sev.toUpperCase()),
    c.stale ? el('span', { class: 'badge stale', title: 'A position in this conflict is older than its party allows' }, 'STALE POSITION') : null,
    c.state && c.state !== 'open' ? el('span', { class: 'badge resolved' }, c.state.toUpperCase()) : null,
    el('span', { class: 'cid', 'data-testid': 'conflict-id' }, c.id ? String(c.id) : 'would open'));

  const otherParty = other.party || '?';
  const name = partyName(otherParty);
  const body = el('div', { class: 'body' },
    row('With', el('strong', { 'data-testid': 'other-party' }, otherParty),
      name && name !== otherParty ? ` — ${name}` : ''),
    row('Their', el('span', { class: 'oid', 'data-testid': 'other-object' }, obj_text(other))),
    row('Mine', el('span', { class: 'oid', 'data-testid': 'mine-object' }, obj_text(c.mine))),
    row('Distance', el('span', { 'data-testid': 'distance' }, fmt_distance(c.distance_m))),
    row('Window', fmt_window(c.window)));

  let ackRow = null;
  if (!opts.compact) {
    ackRow = row('Acks', ...acks.flatMap((a, i) => [
      i ? ' · ' : '',
      el('span', {
        class: a.at ? 'ack yes' : 'ack no',
        'data-testid': `ack-${a.party}`,
        'data-acked': a.at ? 'yes' : 'no',
      }, `${a.party} ${a.at ? `✔ ${fmt_time(a.at).slice(11)}` : '— pending'}`),
    ]));
  }

  const li = el('li', {
    class: `conflict ${sev}${opts.selected ? ' selected' : ''}${opts.flash ? ' flash' : ''}`,
    'data-testid': 'conflict',
    'data-conflict-id': c.id || '',
    'data-key': key,
    'data-severity': sev,
    'data-other-id': other.id || '',
    tabindex: opts.onSelect ? '0' : null,
  }, head, body, ackRow);

  if (opts.onSelect) {
    li.addEventListener('click', (e) => {
      if (e.target.closest('button')) return;
      opts.onSelect(c);
    });
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target === li) opts.onSelect(c);
    });
  }

  if (!opts.compact && c.id && opts.onAck) {
    const acked = !!(myAck && myAck.at);
    const b = el('button', {
      type: 'button',
      class: acked ? 'acked' : 'primary',
      'data-testid': 'ack-button',
      disabled: acked || c.state === 'resolved',
    }, acked ? 'Acknowledged' : 'Acknowledge');
    b.addEventListener('click', () => opts.onAck(c, b));
    li.append(el('div', { class: 'actions' }, b));
  }
  return li;
}
