// main.js: the console's shell: sign-in, the session, the page router
// (#/page?params) and the cluster poll that feeds the header and the
// cluster page.
import { getJSON, onAuthNeeded, signIn, signOut, APIError } from './api.js';
import { h, fill, clear, errorBox } from './dom.js';
import * as cluster from './cluster.js';
import * as metrics from './metrics.js';
import * as keys from './keys.js';
import * as sql from './sql.js';
import * as resources from './resources.js';
import * as snapshot from './snapshot.js';

const pages = { cluster, metrics, keys, sql, resources, snapshot };
const POLL_MS = 2000;

const view = document.getElementById('view');
const loginDialog = document.getElementById('login');
let session = null;
let unmount = null;

// The cluster view, polled for as long as the console is open; pages
// subscribe to it.
const feed = {
  last: null, error: null, subs: new Set(), timer: null,
  subscribe(fn) {
    this.subs.add(fn);
    if (this.last || this.error) fn(this.last, this.error);
    return () => this.subs.delete(fn);
  },
  async poll() {
    clearTimeout(this.timer);
    try {
      this.last = await getJSON('/v1/console/cluster');
      this.error = null;
    } catch (e) {
      this.error = e;
    }
    header(this.last, this.error);
    for (const fn of this.subs) fn(this.last, this.error);
    if (session) this.timer = setTimeout(() => this.poll(), POLL_MS);
  },
};

function header(cv, err) {
  const pill = document.getElementById('health');
  if (err || !cv) {
    pill.className = 'pill down';
    pill.textContent = 'unreachable';
    return;
  }
  pill.className = 'pill ' + (cv.healthy ? 'healthy' : 'degraded');
  pill.textContent = cv.healthy ? 'healthy' : 'degraded';
  document.getElementById('member').textContent = 'member ' + cv.member;
}

// parseHash splits "#/page?a=1&b=2" into the page and its raw (still
// percent-encoded) parameters.
function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [page, query = ''] = hash.split('?');
  const params = {};
  for (const part of query.split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    params[i < 0 ? part : part.slice(0, i)] = i < 0 ? '' : part.slice(i + 1);
  }
  return { page: pages[page] ? page : 'cluster', params };
}

// route shows the page the hash names. A page's mount returns a cleanup
// function, or {unmount, update}: update takes new parameters of the same
// page without mounting it again (the key browser keeps its watch).
let current = null; // {page, handle}
function route() {
  if (!session) return;
  const { page, params } = parseHash();
  if (current && current.page === page && current.handle && current.handle.update) {
    current.handle.update(params);
    return;
  }
  if (unmount) { unmount(); unmount = null; }
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  clear(view);
  try {
    const handle = pages[page].mount(view, { session, feed, params }) || null;
    current = { page, handle };
    unmount = typeof handle === 'function' ? handle : handle && handle.unmount;
  } catch (e) {
    current = null;
    view.append(errorBox(e));
    console.error(e);
  }
}

async function loadSession() {
  try {
    session = await getJSON('/v1/console/session');
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return false; // onAuthNeeded opened the form
    fill(view, errorBox(e));
    return false;
  }
  document.getElementById('user').textContent = session.auth_enabled ? 'signed in as ' + session.user : '';
  document.getElementById('logout').hidden = !session.auth_enabled;
  const banner = document.getElementById('banner');
  banner.hidden = session.auth_enabled;
  banner.textContent = 'Authentication is off: anyone who reaches this port can read and write everything.';
  return true;
}

function askCredentials() {
  session = null;
  current = null;
  clearTimeout(feed.timer);
  feed.timer = null;
  if (unmount) { unmount(); unmount = null; }
  fill(view, h('p', { class: 'muted' }, 'Sign in to continue.'));
  if (!loginDialog.open) loginDialog.showModal();
}

document.getElementById('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const err = document.getElementById('login-error');
  err.hidden = true;
  try {
    await signIn(form.name.value, form.password.value);
  } catch (e) {
    err.textContent = e.status === 401 ? 'Wrong user or password.' : e.message;
    err.hidden = false;
    return;
  }
  form.password.value = '';
  loginDialog.close();
  await start();
});
loginDialog.addEventListener('cancel', (ev) => ev.preventDefault());

document.getElementById('logout').addEventListener('click', () => {
  signOut();
  askCredentials();
});

onAuthNeeded(askCredentials);
window.addEventListener('hashchange', route);

async function start() {
  if (!(await loadSession())) return;
  if (!feed.timer) feed.poll();
  route();
}

start();
