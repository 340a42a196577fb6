// sql.js: the SQL console: a statement run at a chosen read consistency
// level (POST /db/query) or as a write (POST /db/execute, for users who may
// write), results as tables, and the database's tables to start from.
import { sendJSON } from './api.js';
import { h, fill, table, errorBox } from './dom.js';

const LEVELS = [
  ['weak', 'weak: linearizable on this member (default)'],
  ['linearizable', 'linearizable: quorum-confirmed read index'],
  ['strong', 'strong: through the raft log'],
  ['none', 'none: this member\'s data, possibly stale'],
];
const MAX_ROWS = 1000;
// NUMERIC matches the declared types SQLite gives numeric affinity.
const NUMERIC = /int|real|floa|doub|num|dec/i;

export function mount(view, { session }) {
  const sqlText = h('textarea', { id: 'sql-text', rows: 5, spellcheck: false, placeholder: 'SELECT * FROM people LIMIT 10' });
  const level = h('select', { id: 'sql-level' }, LEVELS.map(([v, label]) => h('option', { value: v }, label)));
  const out = h('div', { id: 'sql-results' });
  const tables = h('ul', { class: 'list', id: 'sql-tables' });
  const run = async (write) => {
    const stmt = sqlText.value.trim();
    if (!stmt) return;
    fill(out, h('p', { class: 'muted' }, 'Running…'));
    try {
      const res = write ? await sendJSON('POST', '/db/execute?timings', [stmt])
        : await sendJSON('POST', '/db/query?timings&level=' + level.value, [stmt]);
      fill(out, ...(res.results || []).map(result));
      if (res.time !== undefined) out.append(h('p', { class: 'muted' }, 'Took ' + (res.time * 1000).toFixed(1) + ' ms on the member.'));
      if (write) loadTables();
    } catch (e) {
      fill(out, errorBox(e));
    }
  };
  sqlText.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); run(false); }
  });
  async function loadTables() {
    try {
      const res = await sendJSON('POST', '/db/query', ["SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_concord\\_%' ESCAPE '\\' ORDER BY name"]);
      const r = res.results[0];
      if (r.error) throw new Error(r.error);
      fill(tables, ...(r.values || []).map(([name, type]) => h('li', {}, h('a', { href: '#/sql', onclick: (ev) => {
        ev.preventDefault();
        sqlText.value = 'SELECT * FROM "' + name.replaceAll('"', '""') + '" LIMIT 100';
        run(false);
      } }, h('span', {}, name), h('span', { class: 'muted' }, type)))));
      if (!r.values) tables.append(h('li', { class: 'muted' }, 'No tables yet.'));
    } catch (e) {
      fill(tables, h('li', {}, errorBox(e)));
    }
  }
  view.append(h('h1', {}, 'SQL'), h('div', { class: 'split' },
    h('div', { class: 'panel' }, h('h2', {}, 'Tables'), tables),
    h('div', {}, h('div', { class: 'panel' }, sqlText,
      h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Read consistency', level),
        h('button', { class: 'primary', id: 'sql-query', onclick: () => run(false) }, 'Query'),
        session.can_write ? h('button', { id: 'sql-execute', onclick: () => run(true) }, 'Execute (write)') : null),
      h('p', { class: 'muted' }, 'Tables whose names start with _concord_ are concord\'s own (hidden above). One statement per run (rqlite\'s API underneath: /db/query, /db/execute). Ctrl+Enter queries.')),
    out)));
  loadTables();
}

// result renders one statement's result: rows, a write's counts, or its error.
function result(r) {
  if (r.error) return h('div', { class: 'panel' }, h('p', { class: 'error' }, r.error));
  if (r.columns) {
    const values = r.values || [];
    return h('div', { class: 'panel' },
      table(r.columns.map((c, i) => h('th', { title: r.types[i] || '', class: NUMERIC.test(r.types[i] || '') ? 'num' : '' }, c)),
        values.slice(0, MAX_ROWS).map((row) => h('tr', {}, row.map((v, i) => h('td', { class: typeof v === 'number' ? 'num' : '' },
          cell(v, r.types[i])))))),
      h('p', { class: 'muted' }, values.length + ' row' + (values.length === 1 ? '' : 's') +
        (values.length > MAX_ROWS ? ', first ' + MAX_ROWS + ' shown' : '') + (r.time !== undefined ? '; ' + (r.time * 1000).toFixed(1) + ' ms' : '')));
  }
  return h('div', { class: 'panel' }, h('p', {}, 'OK: ' + (r.rows_affected || 0) + ' row(s) affected' +
    (r.last_insert_id ? ', last insert id ' + r.last_insert_id : '') + '.'));
}

function cell(v, type) {
  if (v === null) return h('span', { class: 'muted' }, 'NULL');
  if (type === 'blob' && typeof v === 'string') return h('span', { class: 'muted', title: v }, 'blob (' + Math.floor(v.length * 3 / 4) + ' bytes)');
  return String(v);
}
