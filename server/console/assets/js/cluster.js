// cluster.js: the members, their raft state and health, from
// GET /v1/console/cluster (polled by main.js).
import { h, fill, table, card, errorBox, fmtInt, fmtMS } from './dom.js';

const COLUMNS = ['Member', 'Role', 'Health', 'Term', 'Commit', 'Applied', 'Lag', 'Last contact', 'Alarms', 'Client', 'Peer'];
const NUMERIC = new Set(['Term', 'Commit', 'Applied', 'Lag', 'Last contact']);
const OPTIONAL = new Set(['Client', 'Peer']); // hidden on narrow screens

export function mount(view, { feed }) {
  const summary = h('div', { class: 'cards', id: 'cluster-summary' });
  const body = h('div', { class: 'panel', id: 'members' }, h('p', { class: 'muted' }, 'Asking the members…'));
  const alarms = h('div', { id: 'alarms' });
  view.append(h('h1', {}, 'Cluster'), summary, body, alarms);
  return feed.subscribe((cv, err) => render(cv, err, summary, body, alarms));
}

function render(cv, err, summary, body, alarms) {
  fill(alarms);
  if (err || !cv) {
    fill(summary);
    fill(body, errorBox(err || 'no answer'));
    return;
  }
  const leader = cv.members.find((m) => m.id === cv.leader);
  const voters = cv.members.filter((m) => m.voter).length;
  fill(summary,
    card('Health', h('span', { class: 'pill ' + (cv.healthy ? 'healthy' : 'degraded'), id: 'cluster-health' },
      cv.healthy ? 'healthy' : 'degraded')),
    card('Leader', h('span', { id: 'leader' }, cv.leader || 'none'), leader ? leader.client_addr : 'no leader known'),
    card('Term', fmtInt(cv.term)),
    card('Members', String(cv.members.length), voters + ' voter' + (voters === 1 ? '' : 's')),
    card('Cluster ID', h('span', { class: 'mono' }, cv.cluster_id), 'answered by ' + cv.member),
  );
  const rows = cv.members.map((m) => row(m, [
    [h('strong', {}, m.id), m.self ? h('span', { class: 'muted' }, ' (this member)') : null],
    [h('span', { class: 'pill ' + (m.state === 'Leader' ? 'leader' : '') }, m.state), m.voter ? null : h('span', { class: 'muted' }, ' learner')],
    [h('span', { class: 'pill ' + m.health }, m.health), m.problems.length ? h('div', { class: 'problems' }, m.problems.join('; ')) : null],
    fmtInt(m.term),
    fmtInt(m.commit_index),
    fmtInt(m.applied_index),
    m.reachable ? fmtInt(m.lag) : '—',
    m.state === 'Leader' ? '—' : fmtMS(m.last_contact_ms),
    m.alarms.length ? m.alarms.map((a) => h('span', { class: 'pill bad' }, a)) : h('span', { class: 'muted' }, 'none'),
    m.client_addr ? h('a', { class: 'mono', href: location.protocol + '//' + m.client_addr + '/ui/', title: "this member's console" }, m.client_addr) : '—',
    h('span', { class: 'mono' }, m.peer_addr),
  ]));
  const t = table(COLUMNS.map((c) => h('th', { class: NUMERIC.has(c) ? 'num' : OPTIONAL.has(c) ? 'opt' : '' }, c)), rows);
  // On a phone the table becomes one card per member, each cell labelled
  // with its column (console.css, .cardtable).
  t.querySelector('table').classList.add('cardtable');
  fill(body,
    cv.members_error ? errorBox('member list: ' + cv.members_error) : null,
    t,
    h('p', { class: 'muted' }, 'Lag: entries between the member\'s applied index and the highest commit index reported. ' +
      'Last contact: how long ago a follower last heard from the leader. Refreshed every 2 s.'));
  if (cv.alarms.length) {
    alarms.append(h('div', { class: 'panel' }, h('h2', {}, 'Alarms'),
      table(['Member', 'Member ID', 'Alarm'], cv.alarms.map((a) =>
        h('tr', {}, h('td', {}, a.member || '?'), h('td', { class: 'mono' }, a.member_id), h('td', {}, a.alarm)))),
      h('p', { class: 'muted' }, 'Disarm with etcdctl alarm disarm once the cause is fixed (see docs/operations.md).')));
  }
}

// row is a member's table row; the data attributes are what the browser
// test (test/console) reads.
function row(m, cells) {
  return h('tr', { dataset: { member: m.id, state: m.state, health: m.health } }, cells.map((c, i) =>
    h('td', { class: NUMERIC.has(COLUMNS[i]) ? 'num' : OPTIONAL.has(COLUMNS[i]) ? 'opt' : '', dataset: { label: COLUMNS[i] } }, c)));
}
