// snapshot.js: download a snapshot archive of the whole state (GET
// /v1/snapshot, root only, like concord snapshot save) or the SQL
// database as a SQLite file (GET /db/backup).
import { request } from './api.js';
import { h, errorBox, fmtBytes } from './dom.js';

export function mount(view, { session }) {
  const out = h('div', { id: 'snapshot-status' });
  const download = async (path, name) => {
    out.replaceChildren(h('p', { class: 'muted' }, 'Downloading…'));
    try {
      const resp = await request('GET', path);
      const blob = await resp.blob();
      const a = h('a', { href: URL.createObjectURL(blob), download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
      out.replaceChildren(h('p', {}, 'Saved ' + name + ' (' + fmtBytes(blob.size) + ').'));
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  view.append(h('h1', {}, 'Snapshot'),
    h('div', { class: 'panel' }, h('h2', {}, 'Snapshot archive'),
      h('p', {}, 'The state of every API (keys, leases, auth, SQL, resources) as one archive, taken by member ' + session.member +
        '. Restore it into new members with ', h('code', {}, 'concord snapshot restore'), ' (see docs/snapshots.md).'),
      session.root ? h('button', { class: 'primary', id: 'snapshot-download',
        onclick: () => download('/v1/snapshot', 'concord-' + session.member + '-' + stamp + '.snap') }, 'Download snapshot')
        : h('p', { class: 'muted' }, 'Only root may download snapshots.')),
    h('div', { class: 'panel' }, h('h2', {}, 'SQL database'),
      h('p', {}, 'The SQL face\'s database as a SQLite file (rqlite\'s /db/backup).'),
      h('button', { id: 'sqlite-download', onclick: () => download('/db/backup', 'concord-' + session.member + '-' + stamp + '.sqlite') },
        'Download SQLite file')),
    out);
}
