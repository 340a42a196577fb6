package resource

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's counters, kept as atomics and exported by the
// Store's prometheus.Collector methods.
type metrics struct {
	writes         atomic.Uint64 // writes applied (create, update, status, delete)
	casFailures    atomic.Uint64 // commands refused with ErrCASFailure
	rejected       atomic.Uint64 // commands refused otherwise
	watchesStarted atomic.Uint64
	eventsSent     atomic.Uint64 // events returned by Watch.Next
	overflows      atomic.Uint64 // watches ended with ErrWatchOverflow
}

// count records the outcome of one applied command.
func (m *metrics) count(err error) {
	switch {
	case err == nil:
		m.writes.Add(1)
	case errors.Is(err, ErrCASFailure):
		m.casFailures.Add(1)
	default:
		m.rejected.Add(1)
	}
}

var (
	descResources = prometheus.NewDesc("concord_resource_resources", "Resources stored on this member, by type (group.kind).", []string{"type"}, nil)
	descRevision  = prometheus.NewDesc("concord_resource_revision", "The resource store's revision: the version of its last write.", nil, nil)
	descCommands  = prometheus.NewDesc("concord_resource_commands_applied_total", "Resource commands applied on this member, by outcome (ok, cas_failure, rejected).", []string{"outcome"}, nil)
	descWatches   = prometheus.NewDesc("concord_resource_watches_active", "Resource list watches open on this member.", nil, nil)
	descStarted   = prometheus.NewDesc("concord_resource_watches_started_total", "Resource list watches started on this member.", nil, nil)
	descEvents    = prometheus.NewDesc("concord_resource_watch_events_sent_total", "Watch events handed to watchers on this member.", nil, nil)
	descOverflows = prometheus.NewDesc("concord_resource_watch_overflows_total", "Watches ended because they fell WatchBuffer events behind.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descResources, descRevision, descCommands, descWatches, descStarted, descEvents, descOverflows} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	st := s.Status()
	for t, n := range st.ByType {
		ch <- prometheus.MustNewConstMetric(descResources, prometheus.GaugeValue, float64(n), t)
	}
	m := &s.metrics
	ch <- prometheus.MustNewConstMetric(descRevision, prometheus.GaugeValue, float64(st.Revision))
	ch <- prometheus.MustNewConstMetric(descCommands, prometheus.CounterValue, float64(m.writes.Load()), "ok")
	ch <- prometheus.MustNewConstMetric(descCommands, prometheus.CounterValue, float64(m.casFailures.Load()), "cas_failure")
	ch <- prometheus.MustNewConstMetric(descCommands, prometheus.CounterValue, float64(m.rejected.Load()), "rejected")
	ch <- prometheus.MustNewConstMetric(descWatches, prometheus.GaugeValue, float64(s.hub.active()))
	ch <- prometheus.MustNewConstMetric(descStarted, prometheus.CounterValue, float64(m.watchesStarted.Load()))
	ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(m.eventsSent.Load()))
	ch <- prometheus.MustNewConstMetric(descOverflows, prometheus.CounterValue, float64(m.overflows.Load()))
}
