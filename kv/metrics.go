package kv

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// storeMetrics are the store's counters of applied lease operations,
// updated by apply (counting changes no state) and exported by the Store's
// prometheus.Collector methods with the gauges read at scrape time.
type storeMetrics struct {
	leaseGrants  atomic.Uint64
	leaseRevokes atomic.Uint64
}

// countLeaseOps counts the grants and revokes of one apply.
func (m *storeMetrics) countLeaseOps(ops []leaseOp) {
	for _, op := range ops {
		switch op.kind {
		case 'g':
			m.leaseGrants.Add(1)
		case 'r':
			m.leaseRevokes.Add(1)
		}
	}
}

var (
	descRevision     = prometheus.NewDesc("concord_kv_revision", "The kv store's current revision.", nil, nil)
	descCompactRev   = prometheus.NewDesc("concord_kv_compact_revision", "The revision the kv history is compacted to.", nil, nil)
	descSize         = prometheus.NewDesc("concord_kv_size_bytes", "The kv state's size as the space quota counts it (Store.Size).", nil, nil)
	descWatchers     = prometheus.NewDesc("concord_kv_watchers", "Watchers open on the kv store (etcd gRPC watches and REST /v1/watch streams).", nil, nil)
	descWatchEvents  = prometheus.NewDesc("concord_kv_watch_events_total", "Events handed to kv watchers (live and catch-up), which their streams send.", nil, nil)
	descLeases       = prometheus.NewDesc("concord_kv_leases", "Leases alive in the kv store.", nil, nil)
	descLeaseGrants  = prometheus.NewDesc("concord_kv_lease_grants_total", "Leases granted, as applied on this member.", nil, nil)
	descLeaseRevokes = prometheus.NewDesc("concord_kv_lease_revokes_total", "Leases revoked (by a client or on expiry), as applied on this member.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRevision, descCompactRev, descSize, descWatchers, descWatchEvents, descLeases, descLeaseGrants, descLeaseRevokes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	st := s.view()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(descRevision, float64(st.rev))
	gauge(descCompactRev, float64(st.compactRev))
	gauge(descSize, float64(st.size))
	gauge(descWatchers, float64(s.hub.watchers()))
	counter(descWatchEvents, s.hub.events.Load())
	gauge(descLeases, float64(st.leases.Len()))
	counter(descLeaseGrants, s.metrics.leaseGrants.Load())
	counter(descLeaseRevokes, s.metrics.leaseRevokes.Load())
}

// watchers counts the watchers registered, synced or not.
func (h *hub) watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.synced.count() + len(h.unsynced)
}

// count returns the number of watchers in the index.
func (x *watchIndex) count() int {
	n := 0
	for _, g := range x.keys {
		n += len(g.ws)
	}
	for _, g := range x.ranges {
		n += len(g.ws)
	}
	return n
}
