// resources.js: the typed-resource browser: the types that hold resources
// (from GET /v1/status), a type's resources across tenancies, and one
// resource's JSON, through the resource REST API.
import { getJSON } from './api.js';
import { h, fill, table, errorBox } from './dom.js';

// LIST_VERSION stands in for the group version in list paths: a list is
// by group and kind, whatever the version of the resources stored.
const LIST_VERSION = 'v1';

export function mount(view, { params }) {
  const types = h('ul', { class: 'list', id: 'resource-types' });
  const list = h('div', { class: 'panel', id: 'resource-list' });
  const detail = h('div', { class: 'panel', id: 'resource-detail' }, h('p', { class: 'muted' }, 'Choose a resource.'));
  const form = h('form', { class: 'row', onsubmit: (ev) => {
    ev.preventDefault();
    location.hash = '#/resources?type=' + encodeURIComponent(form.g.value + '.' + form.k.value);
  } }, h('label', { class: 'grow' }, 'Group', h('input', { name: 'g', required: true, placeholder: 'demo' })),
  h('label', { class: 'grow' }, 'Kind', h('input', { name: 'k', required: true, placeholder: 'Artist' })),
  h('button', { type: 'submit' }, 'List'));
  view.append(h('h1', {}, 'Resources'), h('div', { class: 'split' },
    h('div', { class: 'panel' }, h('h2', {}, 'Types'), types, h('h3', {}, 'Another type'), form),
    h('div', {}, list, detail)));

  (async () => {
    try {
      const st = await getJSON('/v1/status');
      const face = st.faces && st.faces.resource;
      if (!face) { fill(types, h('li', { class: 'muted' }, 'The resource face is not running on this member.')); return; }
      const byType = face.by_type || {};
      const names = Object.keys(byType).sort();
      fill(types, ...names.map((t) => h('li', {}, h('a', { href: '#/resources?type=' + encodeURIComponent(t) },
        h('span', {}, t), h('span', { class: 'muted' }, String(byType[t]))))));
      if (!names.length) types.append(h('li', { class: 'muted' }, 'No resources stored yet.'));
    } catch (e) {
      fill(types, h('li', {}, errorBox(e)));
    }
  })();

  let gen = 0;
  async function update(p) {
    const g = ++gen;
    const type = decodeURIComponent(p.type || '');
    const cut = type.lastIndexOf('.');
    if (cut <= 0) { fill(list, h('p', { class: 'muted' }, 'Choose a type.')); return; }
    const group = type.slice(0, cut), kind = type.slice(cut + 1);
    fill(list, h('h2', {}, type), h('p', { class: 'muted' }, 'Reading…'));
    let res;
    try {
      res = await getJSON('/v1/resource/' + encodeURIComponent(group) + '/' + LIST_VERSION + '/' + encodeURIComponent(kind) +
        '?partition=*&namespace=*');
    } catch (e) {
      if (g === gen) list.lastChild.replaceWith(errorBox(e));
      return;
    }
    if (g !== gen) return;
    const rs = res.resources || [];
    list.lastChild.replaceWith(rs.length ? table(['Name', 'Partition', 'Namespace', 'Version', h('th', { class: 'opt' }, 'Owner')],
      rs.map((r) => h('tr', { class: 'clickable', dataset: { name: r.id.name }, onclick: () => open(r) },
        h('td', { class: 'mono' }, r.id.name), h('td', {}, r.id.tenancy.partition), h('td', {}, r.id.tenancy.namespace),
        h('td', { class: 'mono' }, r.version), h('td', { class: 'opt mono' }, r.owner ? r.owner.type.kind + '/' + r.owner.name : '—'))))
      : h('p', { class: 'muted' }, 'None.'));
  }

  // open reads one resource again (consistently) and shows its JSON.
  async function open(r) {
    const id = r.id;
    fill(detail, h('h2', { class: 'mono' }, id.type.group + '.' + id.type.groupVersion + '.' + id.type.kind + '/' + id.name),
      h('p', { class: 'muted' }, 'Reading…'));
    try {
      const fresh = await getJSON('/v1/resource/' + [id.type.group, id.type.groupVersion, id.type.kind, id.name].map(encodeURIComponent).join('/') +
        '?partition=' + encodeURIComponent(id.tenancy.partition) + '&namespace=' + encodeURIComponent(id.tenancy.namespace) + '&consistent');
      detail.lastChild.replaceWith(h('pre', { id: 'resource-json' }, JSON.stringify(fresh, null, 2)));
    } catch (e) {
      detail.lastChild.replaceWith(errorBox(e));
    }
  }

  update(params);
  return { update, unmount: () => { gen++; } };
}
