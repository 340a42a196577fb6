// metrics.js: live throughput and latency from this member's own metrics
// (GET /v1/console/metrics, polled): counters become rates and histograms
// quantiles over each poll interval; summaries carry their own quantiles.
import { getJSON } from './api.js';
import { h, fill, svg, card, table, errorBox, fmtBytes, fmtMS, fmtRate } from './dom.js';

const POLL_MS = 2000;
const KEEP = 90; // points per chart: three minutes
const COLORS = ['#2f7de1', '#e8833a', '#1a9e5b', '#b04ad6', '#d64a6b', '#7a8a99'];

export function mount(view) {
  const cards = h('div', { class: 'cards', id: 'metric-cards' });
  const tput = h('div', { class: 'panel' });
  const lat = h('div', { class: 'panel' });
  const pick = h('select', { id: 'latency-series', onchange: () => draw() });
  const latTable = h('div', { class: 'panel' });
  const counters = h('details', { class: 'panel' });
  const status = h('p', { class: 'muted' }, 'Polling every 2 s…');
  view.append(h('h1', {}, 'Metrics'), cards, h('div', { class: 'charts' }, tput, h('div', {}, lat)), latTable, counters, status);

  const hist = { tput: new Map(), lat: new Map() }; // name -> [{t, v}] / [{t, p50, p99}]
  let prev = null, timer = null, stopped = false, last = null;

  function push(map, name, point) {
    if (!map.has(name)) map.set(name, []);
    const a = map.get(name);
    a.push(point);
    if (a.length > KEEP) a.shift();
  }

  async function poll() {
    try {
      const cur = await getJSON('/v1/console/metrics');
      if (stopped) return;
      last = derive(prev, cur);
      prev = cur;
      if (last) {
        const t = cur.time_ms;
        for (const [name, v] of last.rates) push(hist.tput, name, { t, v });
        for (const s of last.latencies) if (s.p50 != null) push(hist.lat, s.key, { t, p50: s.p50, p99: s.p99 });
      }
      draw();
      status.textContent = 'Updated ' + new Date(cur.time_ms).toLocaleTimeString() + '; polling every 2 s.';
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  function draw() {
    if (!last) return;
    fill(cards, 
      card('Applied', fmtRate(last.applied) + '/s', 'log entries applied'),
      card('Requests', fmtRate(last.requests) + '/s', 'on the client port'),
      card('CPU', last.cpu == null ? '—' : (last.cpu * 100).toFixed(0) + '%', 'of one core'),
      card('Memory', last.rss == null ? '—' : fmtBytes(last.rss), 'resident'),
      card('Goroutines', last.goroutines == null ? '—' : String(last.goroutines)),
      card('Commit p99', last.commitP99 == null ? '—' : fmtMS(last.commitP99), 'raft commit time (leader)'),
    );
    const tl = [...hist.tput.entries()].filter(([, pts]) => pts.some((p) => p.v > 0) || pts === hist.tput.get('applied entries'));
    fill(tput, h('h2', {}, 'Throughput (per second)'),
      chart(tl.slice(0, COLORS.length).map(([name, pts], i) => ({ name, color: COLORS[i], pts: pts.map((p) => [p.t, p.v]) })), fmtRate));

    const keys = last.latencies.map((s) => s.key).sort();
    if (pick.options.length !== keys.length || [...pick.options].some((o, i) => o.value !== keys[i])) {
      const sel = pick.value || ['concord_request_duration_seconds (all)', 'concord_raft_commitTime'].find((k) => keys.includes(k)) || keys[0];
      fill(pick, ...keys.map((k) => h('option', { value: k }, k)));
      if (sel) pick.value = sel;
    }
    const pts = hist.lat.get(pick.value) || [];
    const unit = (last.latencies.find((s) => s.key === pick.value) || {}).unit;
    const fmt = unit === 'ms' ? fmtMS : (v) => fmtRate(v);
    fill(lat, h('h2', {}, 'Latency'), h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Series', pick)),
      chart([{ name: 'p50', color: COLORS[0], pts: pts.map((p) => [p.t, p.p50]) },
        { name: 'p99', color: COLORS[1], pts: pts.map((p) => [p.t, p.p99]) }], fmt));

    fill(latTable, h('h2', {}, 'Latency series'),
      table(['Series', h('th', { class: 'num' }, 'Rate/s'), h('th', { class: 'num' }, 'p50'), h('th', { class: 'num' }, 'p99'),
        h('th', { class: 'num opt' }, 'Count')],
      last.latencies.map((s) => {
        const f = s.unit === 'ms' ? fmtMS : (v) => fmtRate(v);
        return h('tr', { class: 'clickable', onclick: () => { pick.value = s.key; draw(); } },
          h('td', { class: 'mono' }, s.key), h('td', { class: 'num' }, fmtRate(s.rate)),
          h('td', { class: 'num' }, s.p50 == null ? '—' : f(s.p50)), h('td', { class: 'num' }, s.p99 == null ? '—' : f(s.p99)),
          h('td', { class: 'num opt' }, String(s.count)));
      })),
      h('p', { class: 'muted' }, 'Histograms: quantiles of the last poll interval. Summaries (concord_raft_*, in ms): ' +
        'quantiles over their own 10 s window.'));

    const open = counters.open;
    fill(counters, h('summary', {}, 'All counters (' + last.counters.length + ')'),
      table(['Counter', h('th', { class: 'num' }, 'Value'), h('th', { class: 'num' }, 'Rate/s')],
        last.counters.map((c) => h('tr', {}, h('td', { class: 'mono' }, c.key), h('td', { class: 'num' }, fmtRate(c.value)),
          h('td', { class: 'num' }, fmtRate(c.rate))))));
    counters.open = open;
  }

  poll();
  return () => { stopped = true; clearTimeout(timer); };
}

// seriesKey names one series: the family and its labels.
function seriesKey(f, m) {
  const labels = Object.entries(m.labels || {}).map(([k, v]) => k + '="' + v + '"');
  return f.name + (labels.length ? '{' + labels.join(',') + '}' : '');
}

// unitOf is how the console shows a latency family's values: seconds
// become ms; go-metrics' raft timings already are ms.
function unitOf(name) {
  if (name.endsWith('_seconds')) return 'ms';
  if (name.startsWith('concord_raft_') && !/Num|Logs|saturation|_bytes/.test(name)) return 'ms';
  return '';
}

// derive turns two polls into rates and quantiles (null on the first).
export function derive(prev, cur) {
  if (!prev) return null;
  const dt = (cur.time_ms - prev.time_ms) / 1000;
  if (dt <= 0) return null;
  const before = new Map();
  for (const f of prev.families) for (const m of f.metrics) before.set(seriesKey(f, m), m);
  const sum = (name) => {
    const f = cur.families.find((x) => x.name === name);
    return f ? f.metrics.reduce((a, m) => a + (m.value || 0), 0) : null;
  };
  const sumBefore = (name) => {
    const f = prev.families.find((x) => x.name === name);
    return f ? f.metrics.reduce((a, m) => a + (m.value || 0), 0) : null;
  };
  const rate = (a, b) => (a == null || b == null || a < b ? 0 : (a - b) / dt);
  const out = { rates: new Map(), latencies: [], counters: [] };
  out.applied = rate(sum('concord_node_applied_index'), sumBefore('concord_node_applied_index'));
  out.rates.set('applied entries', out.applied);
  out.requests = 0;
  out.cpu = sum('process_cpu_seconds_total') == null ? null : rate(sum('process_cpu_seconds_total'), sumBefore('process_cpu_seconds_total'));
  out.rss = sum('process_resident_memory_bytes');
  out.goroutines = sum('go_goroutines');
  // Requests: concord_requests_total counts every API by its api label;
  // without it (older members), the sum of the *_requests_total families.
  const unified = cur.families.some((f) => f.name === 'concord_requests_total');
  const byAPI = new Map();
  for (const f of cur.families) {
    if (f.type === 'counter') {
      let total = 0, totalBefore = 0;
      for (const m of f.metrics) {
        const b = before.get(seriesKey(f, m));
        const r = rate(m.value, b ? b.value : null);
        out.counters.push({ key: seriesKey(f, m), value: m.value || 0, rate: r });
        total += m.value || 0;
        totalBefore += b ? b.value || 0 : m.value || 0;
        if (f.name === 'concord_requests_total') {
          const api = 'requests ' + ((m.labels && m.labels.api) || '?');
          byAPI.set(api, (byAPI.get(api) || 0) + r);
        }
      }
      if (unified ? f.name === 'concord_requests_total' : f.name.endsWith('_requests_total')) {
        const r = rate(total, totalBefore);
        if (!unified) out.rates.set(f.name.replace(/^concord_/, '').replace(/_total$/, ''), r);
        out.requests += r;
      }
    }
    if (f.type !== 'histogram' && f.type !== 'summary') continue;
    const unit = unitOf(f.name);
    const scale = f.name.endsWith('_seconds') ? 1000 : 1;
    const series = f.metrics.map((m) => ({ key: seriesKey(f, m), m, b: before.get(seriesKey(f, m)) }));
    if (f.type === 'histogram' && f.metrics.length > 1) {
      // One more series: every label set together.
      series.unshift({ key: f.name + ' (all)', m: sumHistograms(f.metrics),
        b: sumHistograms(f.metrics.map((m) => before.get(seriesKey(f, m))).filter(Boolean)) });
    }
    for (const { key, m, b } of series) {
      const dc = (m.count || 0) - (b ? b.count || 0 : 0);
      const s = { key, unit, count: m.count || 0, rate: dc > 0 ? dc / dt : 0, p50: null, p99: null };
      if (f.type === 'summary') {
        const q = (x) => { const e = (m.quantiles || []).find((p) => p[0] === x); return e ? e[1] * scale : null; };
        s.p50 = q(0.5);
        s.p99 = q(0.99);
      } else if (dc > 0) {
        s.p50 = bucketQuantile(0.5, m.buckets || [], b ? b.buckets || [] : [], dc) * scale;
        s.p99 = bucketQuantile(0.99, m.buckets || [], b ? b.buckets || [] : [], dc) * scale;
      }
      if (f.name === 'concord_raft_commitTime') out.commitP99 = s.p99;
      out.latencies.push(s);
    }
  }
  for (const [api, r] of [...byAPI.entries()].sort((a, b) => b[1] - a[1])) out.rates.set(api, r);
  out.latencies.sort((a, b) => (b.rate - a.rate) || a.key.localeCompare(b.key));
  return out;
}

// sumHistograms adds histograms with the same buckets.
function sumHistograms(ms) {
  const out = { count: 0, buckets: [] };
  for (const m of ms) {
    out.count += m.count || 0;
    (m.buckets || []).forEach(([ub, c], i) => {
      if (!out.buckets[i]) out.buckets[i] = [ub, 0];
      out.buckets[i][1] += c;
    });
  }
  return out;
}

// bucketQuantile estimates quantile q of the observations between two
// cumulative histograms (as Prometheus' histogram_quantile does: linear
// within the bucket); past the last finite bucket it answers that bound.
export function bucketQuantile(q, cur, prev, total) {
  const rank = q * total;
  let lower = 0, below = 0;
  for (let i = 0; i < cur.length; i++) {
    const [ub, c] = cur[i];
    const n = c - (prev[i] ? prev[i][1] : 0);
    if (n >= rank) return lower + (ub - lower) * ((rank - below) / Math.max(n - below, 1e-9));
    lower = ub;
    below = n;
  }
  return lower;
}

// chart draws lines of [t, v] points as an SVG sized to its container.
function chart(series, fmt) {
  const W = 600, H = 170, L = 54, B = 18, T = 8;
  const all = series.flatMap((s) => s.pts);
  const el = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img' });
  // Colors through the CSSOM: the CSP refuses style attributes.
  const legend = h('div', { class: 'legend' }, series.map((s) => {
    const el = h('span', {}, s.name);
    el.style.setProperty('--c', s.color);
    return el;
  }));
  if (all.length < 2) {
    el.append(svg('text', { x: L, y: H / 2 }, document.createTextNode('collecting…')));
    return h('div', {}, el, legend);
  }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const vmax = Math.max(...all.map((p) => p[1]), 1e-9) * 1.1;
  const x = (t) => L + ((t - t0) / Math.max(t1 - t0, 1)) * (W - L - 4);
  const y = (v) => T + (1 - v / vmax) * (H - T - B);
  for (const f of [0, 0.5, 1]) {
    el.append(svg('line', { class: 'grid', x1: L, x2: W, y1: y(vmax * f), y2: y(vmax * f) }),
      svg('text', { x: 2, y: y(vmax * f) + 4 }, document.createTextNode(fmt(vmax * f))));
  }
  el.append(svg('text', { x: L, y: H - 3 }, document.createTextNode(new Date(t0).toLocaleTimeString())),
    svg('text', { x: W - 2, y: H - 3, 'text-anchor': 'end' }, document.createTextNode(new Date(t1).toLocaleTimeString())));
  for (const s of series) {
    if (s.pts.length) el.append(svg('polyline', { stroke: s.color, points: s.pts.map((p) => x(p[0]) + ',' + y(p[1])).join(' ') }));
  }
  return h('div', {}, el, legend);
}
