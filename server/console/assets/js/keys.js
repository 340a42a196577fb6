// keys.js: the key browser: keys grouped by '/' under a prefix, a key's
// value and metadata, its history across revisions (walking back through
// ?revision=), a live watch of the prefix (the REST watch, NDJSON), and
// put/delete for users who may write. Everything goes through /v1/kv and
// /v1/watch, so the API's permission checks apply.
import { getJSON, request, streamLines } from './api.js';
import { h, fill, table, errorBox, confirmButton } from './dom.js';
import * as B from './bytes.js';

const PAGE = 500;
const HISTORY_STEP = 20;
const SLASH = 0x2f;

// kvPath is the REST path of a key, query included.
function kvPath(key, query) { return '/v1/kv/' + B.pct(key, true) + (query ? '?' + query : ''); }

// link is the console's address of a prefix and a selected key.
function link(prefix, key) {
  return '#/keys?prefix=' + B.pct(prefix) + (key ? '&key=' + B.pct(key) : '');
}

export function mount(view, { session, params }) {
  const left = h('div', { class: 'panel', id: 'key-list' });
  const right = h('div', {});
  const keyPanel = h('div', { class: 'panel', id: 'key-view' });
  const watchPanel = h('div', { class: 'panel', id: 'watch' });
  const putPanel = session.can_write ? h('div', { class: 'panel', id: 'key-put' }) : null;
  fill(right, keyPanel, watchPanel, putPanel);
  view.append(h('h1', {}, 'Keys'), h('div', { class: 'split' }, left, right));

  let prefix = new Uint8Array(), selected = null;
  let watch = null; // AbortController of the running watch
  let listGen = 0, keyGen = 0;

  // listing: render the keys under prefix, grouping the next '/' level.
  async function list() {
    const gen = ++listGen;
    const crumbs = h('div', { class: 'crumbs' }, h('a', { href: link(new Uint8Array()) }, '(all keys)'));
    let start = 0;
    for (let i = 0; i < prefix.length; i++) {
      if (prefix[i] === SLASH || i === prefix.length - 1) {
        crumbs.append(h('a', { href: link(prefix.slice(0, i + 1)) }, B.show(prefix.slice(start, i + 1))));
        start = i + 1;
      }
    }
    const ul = h('ul', { class: 'list', id: 'keys' });
    const status = h('p', { class: 'muted' }, 'Reading…');
    const goto = h('form', { class: 'row', onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = link(B.fromText(ev.target.p.value));
    } }, h('input', { name: 'p', class: 'grow', placeholder: 'prefix, e.g. app/', value: B.show(prefix), 'aria-label': 'prefix' }),
    h('button', { type: 'submit' }, 'Go'));
    fill(left, crumbs, goto, ul, status,
      h('div', { class: 'row' }, h('button', { id: 'watch-toggle', onclick: toggleWatch }, watch ? 'Stop watching' : 'Watch this prefix')));
    const dirs = new Map();
    let from = prefix, query = 'prefix&keys_only&limit=' + PAGE, total = 0;
    for (;;) {
      let res;
      try {
        res = await getJSON(kvPath(from, query));
      } catch (e) {
        if (gen === listGen) status.replaceChildren(errorBox(e));
        return;
      }
      if (gen !== listGen) return;
      for (const kv of res.kvs || []) {
        const key = B.keyOf(kv);
        const rest = key.slice(prefix.length);
        const cut = rest.indexOf(SLASH);
        if (cut >= 0 && cut < rest.length - 1) {
          const dir = key.slice(0, prefix.length + cut + 1);
          const id = B.pct(dir);
          if (!dirs.has(id)) {
            const count = h('span', { class: 'muted' });
            dirs.set(id, { count, n: 0 });
            ul.append(h('li', {}, h('a', { href: link(dir), class: 'dir', dataset: { prefix: B.show(dir) } },
              h('span', {}, B.show(rest.slice(0, cut + 1))), count)));
          }
          const d = dirs.get(id);
          d.count.textContent = String(++d.n);
        } else {
          ul.append(h('li', {}, h('a', { href: link(prefix, key), dataset: { key: B.show(key) },
            class: selected && B.equal(key, selected) ? 'selected' : '' }, h('span', {}, B.show(rest) || '(the prefix itself)'),
          h('span', { class: 'muted' }, 'v' + kv.version))));
        }
        total++;
      }
      const last = res.kvs && res.kvs.length ? B.keyOf(res.kvs[res.kvs.length - 1]) : null;
      if (!res.more || !last) {
        status.textContent = total ? total + ' key' + (total === 1 ? '' : 's') + ' at revision ' + res.revision : 'No keys under this prefix.';
        return;
      }
      // More: a button reads the next page from just after the last key.
      status.textContent = total + ' keys shown; more exist.';
      const more = h('button', {}, 'Load ' + PAGE + ' more');
      status.append(' ', more);
      await new Promise((resolve) => more.addEventListener('click', resolve, { once: true }));
      if (gen !== listGen) return;
      from = B.concat(last, new Uint8Array([0]));
      query = 'range_end=' + B.pct(prefix.length ? B.prefixEnd(prefix) : new Uint8Array([0]), true) + '&keys_only&limit=' + PAGE;
      status.textContent = 'Reading…';
    }
  }

  // show: the selected key's value and metadata.
  async function show() {
    const gen = ++keyGen;
    if (!selected) {
      fill(keyPanel, h('h2', {}, 'Key'), h('p', { class: 'muted' }, 'Choose a key on the left.'));
      return;
    }
    const key = selected;
    fill(keyPanel, h('h2', { class: 'mono', id: 'key-name' }, B.show(key)), h('p', { class: 'muted' }, 'Reading…'));
    let res;
    try {
      res = await getJSON(kvPath(key, 'range_end=' + B.pct(B.concat(key, new Uint8Array([0])), true)));
    } catch (e) {
      if (gen === keyGen) keyPanel.lastChild.replaceWith(errorBox(e));
      return;
    }
    if (gen !== keyGen) return;
    const kv = res.kvs && res.kvs[0];
    if (!kv) {
      keyPanel.lastChild.replaceWith(h('p', { class: 'muted' }, 'No such key at revision ' + res.revision + ' (deleted?).'));
      return;
    }
    const value = B.valueOf(kv);
    const history = h('div', { id: 'history' });
    keyPanel.lastChild.replaceWith(
      h('dl', { class: 'meta' },
        h('dt', {}, 'version'), h('dd', {}, String(kv.version)),
        h('dt', {}, 'created at'), h('dd', {}, 'revision ' + kv.create_revision),
        h('dt', {}, 'modified at'), h('dd', {}, 'revision ' + kv.mod_revision),
        h('dt', {}, 'lease'), h('dd', {}, kv.lease ? String(kv.lease) : 'none'),
        h('dt', {}, 'size'), h('dd', {}, value.length + ' bytes')),
      valueView(value),
      h('div', { class: 'row' },
        h('button', { id: 'history-load', onclick: (ev) => { ev.target.remove(); loadHistory(key, kv, history); } }, 'Show history'),
        session.can_write ? confirmButton('Delete', 'Really delete?', async () => {
          try {
            await request('DELETE', kvPath(key, 'prev_mod_revision=' + kv.mod_revision));
            location.hash = link(prefix);
            list();
          } catch (e) { keyPanel.append(errorBox(e)); }
        }, { class: 'danger', id: 'key-delete' }) : null),
      history);
  }

  function toggleWatch() {
    if (watch) {
      watch.abort();
      watch = null;
    } else {
      startWatch();
    }
    const b = document.getElementById('watch-toggle');
    if (b) b.textContent = watch ? 'Stop watching' : 'Watch this prefix';
  }

  // startWatch streams the prefix's events into the watch panel and
  // refreshes the list and the selected key as they change.
  function startWatch() {
    const ctl = new AbortController();
    watch = ctl;
    const events = h('div', { class: 'events', id: 'events' });
    const state = h('p', { class: 'muted' }, 'Watching ' + (prefix.length ? '"' + B.show(prefix) + '"' : 'every key') + '…');
    fill(watchPanel, h('h2', {}, 'Live watch'), state, events);
    let refresh = null;
    streamLines('/v1/watch/' + B.pct(prefix, true) + '?prefix', ctl.signal, (ev) => {
      if (ev.canceled) { state.textContent = 'The watch was canceled: ' + (ev.cancel_reason || 'compacted at ' + ev.compact_revision); return; }
      if (!ev.type) return; // created, progress
      const key = B.keyOf(ev.kv);
      const val = B.show(B.valueOf(ev.kv));
      events.prepend(h('div', { class: ev.type }, '#' + ev.revision + ' ' + ev.type + ' ' + B.show(key) +
        (ev.type === 'PUT' ? ' = ' + (val.length > 120 ? val.slice(0, 120) + '…' : val) : '')));
      while (events.childElementCount > 200) events.lastChild.remove();
      clearTimeout(refresh);
      refresh = setTimeout(() => { list(); if (selected && B.equal(key, selected)) show(); }, 500);
    }).then(() => { if (watch === ctl) state.textContent = 'The watch ended.'; },
      (e) => { if (e.name !== 'AbortError') state.replaceChildren(errorBox(e)); });
  }

  function putForm() {
    if (!putPanel) return;
    const form = h('form', { onsubmit: async (ev) => {
      ev.preventDefault();
      const key = B.fromText(form.k.value);
      try {
        await request('PUT', kvPath(key), { body: form.v.value });
        form.v.value = '';
        location.hash = link(prefix, key);
        list();
        show();
      } catch (e) { out.replaceChildren(errorBox(e)); }
    } });
    const out = h('div', {});
    form.append(h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Key', h('input', { name: 'k', required: true, value: B.show(prefix) }))),
      h('label', {}, 'Value', h('textarea', { name: 'v', rows: 3 })),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Put')), out);
    fill(putPanel, h('h2', {}, 'Write a key'), form);
  }

  function update(p) {
    const np = B.unpct(p.prefix || '');
    const nk = p.key !== undefined ? B.unpct(p.key) : null;
    const prefixChanged = prefix === null || !B.equal(np, prefix);
    prefix = np;
    selected = nk;
    if (prefixChanged) {
      if (watch) { watch.abort(); watch = null; fill(watchPanel, h('p', { class: 'muted' }, 'Watch stopped: the prefix changed.')); }
      putForm();
      list();
    } else {
      for (const a of left.querySelectorAll('a[data-key]')) a.classList.toggle('selected', !!selected && a.dataset.key === B.show(selected));
    }
    show();
  }

  fill(watchPanel, h('h2', {}, 'Live watch'), h('p', { class: 'muted' }, 'Press "Watch this prefix" to follow changes as they happen.'));
  prefix = null;
  update(params);
  return { update, unmount: () => { listGen++; keyGen++; if (watch) watch.abort(); } };
}

// valueView shows a value as text (pretty JSON when it is JSON) or, for
// binary values, as a hex dump.
function valueView(v) {
  const t = B.text(v);
  if (t === null) return h('div', {}, h('h3', {}, 'Value (binary, hex)'), h('pre', { id: 'key-value' }, B.hex(v.slice(0, 4096)) +
    (v.length > 4096 ? '\n…' : '')));
  let shown = t, kind = 'text';
  try {
    if (/^\s*[[{]/.test(t)) { shown = JSON.stringify(JSON.parse(t), null, 2); kind = 'JSON'; }
  } catch (_) { /* plain text */ }
  return h('div', {}, h('h3', {}, 'Value (' + kind + ')'), h('pre', { id: 'key-value' }, shown));
}

// loadHistory walks the key's versions back from kv: each version's
// predecessor is the key read at the revision just before its mod_revision,
// down to version 1 or the compacted history.
async function loadHistory(key, kv, into) {
  const rows = h('tbody', {});
  const status = h('p', { class: 'muted' });
  fill(into, h('h3', {}, 'History'), h('div', { class: 'scroll' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'Version'), h('th', { class: 'num' }, 'Revision'), h('th', {}, 'Value'))), rows)), status);
  let cur = kv;
  const add = (x) => rows.append(h('tr', { dataset: { version: x.version } }, h('td', { class: 'num' }, String(x.version)),
    h('td', { class: 'num' }, String(x.mod_revision)), h('td', {}, h('pre', {}, B.show(B.valueOf(x))))));
  add(cur);
  const step = async () => {
    for (let n = 0; n < HISTORY_STEP && cur.version > 1; n++) {
      let res;
      try {
        res = await getJSON(kvPath(key, 'range_end=' + B.pct(B.concat(key, new Uint8Array([0])), true) + '&revision=' + (cur.mod_revision - 1)));
      } catch (e) {
        status.replaceChildren(e.code === 'compacted' ? 'Older versions were compacted.' : errorBox(e));
        return;
      }
      const prev = res.kvs && res.kvs[0];
      if (!prev) break;
      cur = prev;
      add(cur);
    }
    if (cur.version > 1) {
      const more = h('button', { onclick: () => { more.remove(); step(); } }, 'Older versions');
      status.replaceChildren(more);
    } else {
      status.textContent = 'Created at revision ' + cur.create_revision + '. Versions before a delete are not shown.';
    }
  };
  await step();
}
