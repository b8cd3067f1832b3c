// unit.test.mjs: the page's pure modules under node's test runner: the SSE
// parser (chunks split anywhere, every line ending), demo-link parsing, and
// the tolerant readers and formatters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sse_parser } from '../../web/src/sse.js';
import { auth_from_hash } from '../../web/src/auth.js';
import {
  model_unit_position, model_unit_stale, model_sort_conflicts, model_acks, fmt_age, fmt_distance,
  fmt_window, model_conflict_key,
} from '../../web/src/model.js';

function parse_all(chunks) {
  const out = [];
  const retries = [];
  const feed = sse_parser((e) => out.push(e), (ms) => retries.push(ms));
  for (const c of chunks) feed(c);
  return { out, retries };
}

test('sse: events, ids, comments, multi-line data', () => {
  const { out, retries } = parse_all([
    ': keep-alive\n\nretry: 3000\nid: 1\nevent: opened\ndata: {"a":1}\n\n',
    'id: 2\ndata: line1\ndata: line2\n\n',
  ]);
  assert.deepEqual(out, [
    { id: '1', event: 'opened', data: '{"a":1}' },
    { id: '2', event: 'message', data: 'line1\nline2' },
  ]);
  assert.deepEqual(retries, [3000]);
});

test('sse: the same stream split at every byte and with CRLF or CR endings', () => {
  const text = 'id: 7\nevent: acked\ndata: {"seq":7}\n\n';
  const want = [{ id: '7', event: 'acked', data: '{"seq":7}' }];
  for (const eol of ['\n', '\r\n', '\r']) {
    const t = text.replace(/\n/g, eol);
    for (let i = 0; i <= t.length; i++) {
      assert.deepEqual(parse_all([t.slice(0, i), t.slice(i)]).out, want, `eol ${JSON.stringify(eol)} split ${i}`);
    }
    assert.deepEqual(parse_all([...t]).out, want);
  }
});

test('sse: an event without a blank line is not dispatched; the id persists', () => {
  const { out } = parse_all(['id: 3\ndata: x\n\n', 'data: y\n\n', 'data: incomplete\n']);
  assert.deepEqual(out.map((e) => [e.id, e.data]), [['3', 'x'], ['3', 'y']]);
});

test('demo links', () => {
  assert.deepEqual(auth_from_hash('#party=RU&token=dct_abc'), { party: 'RU', token: 'dct_abc' });
  assert.deepEqual(auth_from_hash('#token=t'), { party: '', token: 't' });
  assert.equal(auth_from_hash('#party=RU'), null);
  assert.equal(auth_from_hash(''), null);
});

test('unit positions: nested (the service), flat, or none', () => {
  const p = model_unit_position({ id: 'u', position: { lon: 1, lat: 2, ce_m: 3, time: 'T' } });
  assert.deepEqual(p, { lon: 1, lat: 2, alt_m: null, ce_m: 3, time: 'T' });
  assert.equal(model_unit_position({ id: 'u' }), null);
  assert.equal(model_unit_position({ id: 'u', lon: 5, lat: 6 }).lat, 6);
});

test("staleness: the service's verdict wins; else age against the limit", () => {
  assert.equal(model_unit_stale({ stale: false }, 1e9, 600), false);
  assert.equal(model_unit_stale({ stale: true }, 0, 600), true);
  assert.equal(model_unit_stale({}, 601, 600), true);
  assert.equal(model_unit_stale({}, 600, 600), false);
  assert.equal(model_unit_stale({}, null, 600), false);
});

test('conflicts sort critical first, then nearest', () => {
  const list = [
    { id: 'a', severity: 'warning', distance_m: 1 },
    { id: 'b', severity: 'critical', distance_m: 300 },
    { id: 'c', severity: 'critical', distance_m: 0 },
  ];
  assert.deepEqual(model_sort_conflicts(list).map((c) => c.id), ['c', 'b', 'a']);
  assert.equal(model_conflict_key({ mine: { type: 'operation', id: 'x' }, other: { party: 'TR', type: 'unit', id: 'u' } }),
    'operation:x|TR:unit:u');
});

test('acks list mine first and include both sides', () => {
  const c = { other: { party: 'TR' }, acks: { TR: '2017-02-09T04:00:00Z', RU: null } };
  assert.deepEqual(model_acks(c, 'RU'), [{ party: 'RU', at: null }, { party: 'TR', at: '2017-02-09T04:00:00Z' }]);
  assert.deepEqual(model_acks({ other: { party: 'TR' } }, 'RU').map((a) => a.party), ['RU', 'TR']);
});

test('formatting', () => {
  assert.equal(fmt_distance(212.4), '212 m');
  assert.equal(fmt_distance(1350), '1.35 km');
  assert.equal(fmt_age(45), '45 s');
  assert.equal(fmt_age(16 * 3600 + 300), '16 h 5 min');
  assert.equal(fmt_window({ start: '2017-02-09T05:00:00Z', end: '2017-02-09T06:00:00Z' }), '2017-02-09 05:00Z – 06:00Z');
  assert.equal(fmt_window({ start: '2017-02-09T23:00:00Z', end: '2017-02-10T01:00:00Z' }), '2017-02-09 23:00Z – 2017-02-10 01:00Z');
});
