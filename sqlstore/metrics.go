package sqlstore

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storeMetrics are the database's Prometheus series. The counters and
// histograms are updated as things happen; the size and applied index are
// read when scraped.
type storeMetrics struct {
	statements   prometheus.Counter
	applySeconds prometheus.Histogram
	querySeconds prometheus.Histogram
	interrupted  prometheus.Counter
	sizeBytes    *prometheus.Desc
	appliedIndex *prometheus.Desc
}

// latencyBuckets span 100µs to ~6.5s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 17)

func newStoreMetrics() *storeMetrics {
	return &storeMetrics{
		statements: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "concord_sql_statements_applied_total",
			Help: "SQL statements applied from the log on this member (reads through the log included).",
		}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "concord_sql_apply_duration_seconds",
			Help:    "Time to apply one log entry's SQL commands, commit included.",
			Buckets: latencyBuckets,
		}),
		querySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "concord_sql_query_duration_seconds",
			Help:    "Time to run one read request on a read connection.",
			Buckets: latencyBuckets,
		}),
		interrupted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "concord_sql_queries_interrupted_total",
			Help: "Read requests interrupted because they ran past their time limit (db_timeout).",
		}),
		sizeBytes: prometheus.NewDesc("concord_sql_database_size_bytes",
			"Size of the SQLite database on disk, file plus WAL.", nil, nil),
		appliedIndex: prometheus.NewDesc("concord_sql_applied_index",
			"Raft index of the last command in the SQLite database.", nil, nil),
	}
}

// met returns the store's metrics, made on first use.
func (s *Store) met() *storeMetrics {
	s.metOnce.Do(func() { s.metrics = newStoreMetrics() })
	return s.metrics
}

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	m := s.met()
	for _, c := range []prometheus.Collector{m.statements, m.applySeconds, m.querySeconds, m.interrupted} {
		c.Describe(ch)
	}
	ch <- m.sizeBytes
	ch <- m.appliedIndex
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	m := s.met()
	for _, c := range []prometheus.Collector{m.statements, m.applySeconds, m.querySeconds, m.interrupted} {
		c.Collect(ch)
	}
	st := s.Status()
	ch <- prometheus.MustNewConstMetric(m.sizeBytes, prometheus.GaugeValue, float64(st.SizeBytes))
	ch <- prometheus.MustNewConstMetric(m.appliedIndex, prometheus.GaugeValue, float64(st.AppliedIndex))
}

// observeApply records the time an Apply or ApplyBatch took since start.
func (s *Store) observeApply(start time.Time) {
	s.met().applySeconds.Observe(time.Since(start).Seconds())
}
