// dom.js: building elements (text is always set as text, never parsed as
// HTML, so keys and values cannot inject markup) and formatting numbers.

// h builds an element: attrs sets attributes, `on*` functions become
// listeners, `dataset` sets data-*; children are nodes or text.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// svg builds an SVG element.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) if (c != null) el.append(c);
  return el;
}

export function clear(el) { el.replaceChildren(); return el; }

// fill replaces el's children (skipping null, false and undefined, which
// Element.append would print).
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function table(headers, rows) {
  return h('div', { class: 'scroll' }, h('table', {},
    h('thead', {}, h('tr', {}, headers.map((x) => (x instanceof Node ? x : h('th', {}, x))))),
    h('tbody', {}, rows)));
}

export function card(label, value, sub, attrs) {
  return h('div', { class: 'card', ...attrs }, h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, value), sub ? h('div', { class: 'sub' }, sub) : null);
}

export function errorBox(err) {
  return h('p', { class: 'error' }, (err && err.message) || String(err));
}

export function fmtInt(n) { return Number(n).toLocaleString('en-US'); }

export function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

export function fmtMS(ms) {
  if (ms < 0) return '—';
  if (ms < 1) return ms.toFixed(2) + ' ms';
  if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + ' ms';
  return (ms / 1000).toFixed(1) + ' s';
}

export function fmtRate(r) {
  if (r >= 100) return r.toFixed(0);
  if (r >= 10) return r.toFixed(1);
  return r.toFixed(2);
}

// Two-step confirmation without a blocking dialog: the first click arms
// the button for a few seconds, the second runs action.
export function confirmButton(label, armedLabel, action, attrs = {}) {
  let armed = null;
  const b = h('button', { ...attrs, onclick: async () => {
    if (!armed) {
      b.textContent = armedLabel;
      armed = setTimeout(() => { armed = null; b.textContent = label; }, 4000);
      return;
    }
    clearTimeout(armed); armed = null; b.textContent = label;
    await action();
  } }, label);
  return b;
}
