// api.js: requests to the member's REST API with the signed-in user's
// bearer token, and errors in the API's {"error", "code"} shape.

const TOKEN_KEY = 'concord.token';
let token = sessionStorage.getItem(TOKEN_KEY) || '';
let authNeeded = () => {};

// APIError is a refused or failed request.
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// onAuthNeeded sets what to do when a request is refused for lack of
// (valid) credentials: the console asks for them.
export function onAuthNeeded(fn) { authNeeded = fn; }

export function signedIn() { return token !== ''; }

// request sends method path; it resolves to the Response of a 2xx answer
// and rejects with an APIError otherwise. X-Concord-Console tells the member
// to answer a 401 without a Basic challenge, so the console's sign-in form
// shows rather than the browser's password dialog; a TLS client
// certificate, if the browser holds one, is sent as for the page.
export async function request(method, path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  headers.set('X-Concord-Console', '1');
  if (token) headers.set('Authorization', 'Bearer ' + token);
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: opts.body, signal: opts.signal,
      credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError(0, 'unreachable', 'the member did not answer: ' + e.message);
  }
  if (resp.ok) return resp;
  let code = 'http_' + resp.status, message = resp.statusText || ('HTTP ' + resp.status);
  try {
    const body = await resp.json();
    if (body && body.error) { message = body.error; code = body.code || code; }
  } catch (_) { /* not JSON */ }
  if (resp.status === 401) {
    setToken('');
    authNeeded();
  }
  throw new APIError(resp.status, code, message);
}

// getJSON reads path as JSON.
export async function getJSON(path, opts) {
  return (await request('GET', path, opts)).json();
}

// sendJSON sends body (encoded as JSON unless it is a string) and reads the
// JSON answer, if any.
export async function sendJSON(method, path, body, opts = {}) {
  const resp = await request(method, path, { ...opts, body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' } });
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

// signIn exchanges a user's password for a token (POST /v1/auth/authenticate).
export async function signIn(name, password) {
  const resp = await request('POST', '/v1/auth/authenticate', { body: JSON.stringify({ name, password }),
    headers: { 'Content-Type': 'application/json' } });
  setToken((await resp.json()).token);
}

export function signOut() { setToken(''); }

function setToken(t) {
  token = t;
  if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
}

// streamLines calls onLine with each line of an NDJSON stream (a watch)
// until the stream ends or signal aborts.
export async function streamLines(path, signal, onLine) {
  const resp = await request('GET', path, { signal });
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) onLine(JSON.parse(line));
    }
  }
}
