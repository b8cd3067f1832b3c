// auth.js: where the page's credentials come from and where they are kept.
// A demo link `/#party=ID&token=TOKEN` signs in directly; the token then
// lives only in sessionStorage (gone when the tab closes) and is stripped
// from the address bar so it does not end up in history or screenshots.

const KEY = 'deconflict.session';

// auth_from_hash reads `party` and `token` from a location hash such as
// "#party=RU&token=abc". Returns {party, token} or null.
export function auth_from_hash(hash) {
  if (!hash || hash.length < 2) return null;
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  if (!token) return null;
  return { party: params.get('party') || '', token };
}

// auth_load returns the stored session or null.
export function auth_load() {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw);
    return s && typeof s.token === 'string' && s.token ? s : null;
  } catch {
    return null;
  }
}

// auth_save keeps the session for this tab only.
export function auth_save(session) {
  sessionStorage.setItem(KEY, JSON.stringify({ party: session.party || '', token: session.token }));
}

// auth_clear forgets the session (sign out, or a token the service refused).
export function auth_clear() {
  sessionStorage.removeItem(KEY);
}

// auth_take_from_location moves credentials from the address bar into
// sessionStorage and removes them from the visible URL. Returns the session
// taken, or null when the hash held none.
export function auth_take_from_location() {
  const s = auth_from_hash(window.location.hash);
  if (!s) return null;
  auth_save(s);
  history.replaceState(null, '', window.location.pathname + window.location.search);
  return s;
}
