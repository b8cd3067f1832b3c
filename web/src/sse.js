// sse.js: Server-Sent Events over fetch(). EventSource cannot send an
// Authorization header, so the stream is read from a ReadableStream and
// parsed here (the text/event-stream format of the HTML standard). The
// last event id is remembered and sent back as Last-Event-ID on reconnect,
// so the service resumes the stream with no gap.

// sse_parser returns a function that takes decoded text chunks and calls
// onEvent({id, event, data}) for each complete event, and onRetry(ms) for
// a `retry:` field. Lines may end in \r\n, \n or \r, split anywhere.
export function sse_parser(onEvent, onRetry) {
  let buf = '';
  let data = [];
  let event = '';
  let id = null;
  let sawCR = false;

  function line(l) {
    if (l === '') {
      if (data.length) onEvent({ id, event: event || 'message', data: data.join('\n') });
      data = [];
      event = '';
      return;
    }
    if (l[0] === ':') return;
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') { if (!value.includes('\0')) id = value; }
    else if (field === 'retry' && /^\d+$/.test(value) && onRetry) onRetry(Number(value));
  }

  return function feed(chunk) {
    for (const ch of chunk) {
      if (sawCR) {
        sawCR = false;
        if (ch === '\n') continue;
      }
      if (ch === '\r' || ch === '\n') {
        line(buf);
        buf = '';
        if (ch === '\r') sawCR = true;
      } else {
        buf += ch;
      }
    }
  };
}

// sse_open keeps a stream open until stop() is called, reconnecting with
// backoff. Calls onEvent(parsedEvent) and onStatus('connecting'|'live'|
// 'retrying'|'unauthorized'). Returns {stop, lastEventId()}.
export function sse_open({ url, token, onEvent, onStatus, lastEventId = null }) {
  let stopped = false;
  let controller = null;
  let retryMs = 2000;
  let failures = 0;
  let last = lastEventId;

  async function once() {
    controller = new AbortController();
    const headers = { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' };
    if (last !== null && last !== '') headers['Last-Event-ID'] = last;
    onStatus('connecting');
    const res = await fetch(url, { headers, signal: controller.signal, cache: 'no-store' });
    if (res.status === 401) {
      onStatus('unauthorized');
      stopped = true;
      return;
    }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    onStatus('live');
    failures = 0;
    const feed = sse_parser((ev) => {
      if (ev.id !== null) last = ev.id;
      onEvent(ev);
    }, (ms) => { retryMs = ms; });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      feed(decoder.decode(value, { stream: true }));
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) break;
      }
      if (stopped) break;
      failures++;
      onStatus('retrying');
      const wait = Math.min(15000, retryMs * Math.min(failures, 5));
      await new Promise((r) => setTimeout(r, wait));
    }
  })();

  return {
    stop() {
      stopped = true;
      if (controller) controller.abort();
    },
    lastEventId: () => last,
  };
}
