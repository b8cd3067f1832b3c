// api.js: the HTTP API of SPEC section 4, as the page uses it. Every call
// carries `Authorization: Bearer TOKEN`; errors become ApiError with the
// service's {error: {code, message, field}} and the whole body kept (a 409
// from the activation interlock carries the blocking conflicts).

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const e = (body && body.error) || {};
    super(e.message || fallback || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.field = e.field || '';
    this.body = body;
  }
}

async function read_body(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { error: { message: text.slice(0, 300) } };
  }
}

// api_create returns an object whose methods call the service with token.
// onUnauthorized is called on any 401 (the token was revoked or is wrong).
export function api_create(token, onUnauthorized) {
  async function call(method, path, body) {
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, null, `service unreachable (${err.message})`);
    }
    const data = await read_body(res);
    if (!res.ok) {
      if (res.status === 401 && onUnauthorized) onUnauthorized();
      throw new ApiError(res.status, data, `${method} ${path}: HTTP ${res.status}`);
    }
    return data;
  }
  return {
    token,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body === undefined ? {} : body),
    conflicts: () => call('GET', '/v1/conflicts?state=open'),
    ack: (id, note) => call('POST', `/v1/conflicts/${encodeURIComponent(id)}/ack`, note ? { note } : {}),
    units: () => call('GET', '/v1/units'),
    sites: () => call('GET', '/v1/sites'),
    operations: () => call('GET', '/v1/operations'),
    parties: () => call('GET', '/v1/parties'),
    check: (op) => call('POST', '/v1/check', op),
    file_operation: (op) => call('POST', '/v1/operations', op),
    activate: (id, reason) =>
      call('POST', `/v1/operations/${encodeURIComponent(id)}/activate`,
        reason ? { override: { reason } } : {}),
    end_operation: (id) => call('POST', `/v1/operations/${encodeURIComponent(id)}/end`, {}),
    cancel_operation: (id) => call('POST', `/v1/operations/${encodeURIComponent(id)}/cancel`, {}),
  };
}

// api_health fetches GET /healthz (no token): {status, clock}.
export async function api_health() {
  const res = await fetch('/healthz', { cache: 'no-store' });
  const data = await read_body(res);
  return { ok: res.ok, data: data || {}, date: res.headers.get('Date') };
}

// api_list pulls the array out of a collection answer {"units": [...]},
// tolerating a bare array.
export function api_list(data, name) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[name])) return data[name];
  return [];
}
