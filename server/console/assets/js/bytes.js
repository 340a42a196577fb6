// bytes.js: keys and values are bytes. They travel as UTF-8 strings or
// base64 in the API's JSON, as percent-encoded bytes in URLs and in the
// console's own #/keys?prefix=...&key=... links.

const enc = new TextEncoder();
const strict = new TextDecoder('utf-8', { fatal: true });

export function fromText(s) { return enc.encode(s); }

export function fromBase64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toBase64(b) {
  let bin = '';
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin);
}

// keyOf and valueOf read a kv of the REST API's JSON.
export function keyOf(kv) { return kv.key_base64 !== undefined ? fromBase64(kv.key_base64) : fromText(kv.key || ''); }
export function valueOf(kv) { return kv.value_base64 !== undefined ? fromBase64(kv.value_base64) : fromText(kv.value || ''); }

// text decodes UTF-8, or returns null if b is not valid UTF-8.
export function text(b) {
  try { return strict.decode(b); } catch (_) { return null; }
}

// show is b for display: its text, or with \xNN escapes where it is not text.
export function show(b) {
  const t = text(b);
  if (t !== null) return t;
  let s = '';
  for (const x of b) s += x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '\\x' + x.toString(16).padStart(2, '0');
  return s;
}

export function hex(b) {
  const lines = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = [...b.slice(i, i + 16)];
    lines.push(i.toString(16).padStart(6, '0') + '  ' + row.map((x) => x.toString(16).padStart(2, '0')).join(' ').padEnd(48) +
      '  ' + row.map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join(''));
  }
  return lines.join('\n');
}

// pct percent-encodes b for a URL, keeping unreserved characters, and '/'
// unless strict (in a path a key's '/' must be escaped: the server would
// clean "//").
export function pct(b, strict = false) {
  let s = '';
  for (const x of b) {
    const c = String.fromCharCode(x);
    s += /[A-Za-z0-9\-._~]/.test(c) || (c === '/' && !strict) ? c : '%' + x.toString(16).toUpperCase().padStart(2, '0');
  }
  return s;
}

// unpct is pct's inverse.
export function unpct(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(...enc.encode(s[i]));
    }
  }
  return new Uint8Array(out);
}

export function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export function startsWith(b, p) {
  if (p.length > b.length) return false;
  for (let i = 0; i < p.length; i++) if (b[i] !== p[i]) return false;
  return true;
}

export function equal(a, b) { return a.length === b.length && startsWith(a, b); }

// prefixEnd is the end of the range of keys starting with p (etcd's
// GetPrefixRangeEnd): p with its last byte below 0xff incremented and the
// rest cut; "\0" (every key from the start) if there is none.
export function prefixEnd(p) {
  const out = p.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] < 0xff) {
      out[i]++;
      return out.slice(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}
