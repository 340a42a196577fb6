package node

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus series: what the log, apply and
// snapshots cost and how often leadership and proposals fail. They are
// updated as things happen and exported by Node's Collect. Reading the
// clock to time apply changes nothing in the state machines.
type metrics struct {
	proposalsCommitted prometheus.Counter
	proposalsFailed    *prometheus.CounterVec
	proposalsPending   atomic.Int64
	pendingDesc        *prometheus.Desc
	applySeconds       prometheus.Histogram
	slowApplies        prometheus.Counter
	leaderChanges      prometheus.Counter
	snapshotSeconds    *prometheus.HistogramVec
	snapshotBytes      *prometheus.GaugeVec
	fsyncSeconds       prometheus.Histogram
}

// Failure reasons of concord_node_proposals_failed_total.
const (
	failNotLeader      = "not_leader"
	failUnknownOutcome = "unknown_outcome"
	failDiskFull       = "disk_full"
	failShutdown       = "shutdown"
	failOther          = "other"
)

// Snapshot operations of the snapshot series: "save" is raft's snapshot
// of the state machines into the snapshot store, "restore" a snapshot
// installed from the leader (or a rollback), "start" the local snapshot
// read when the node starts.
const (
	snapSave    = "save"
	snapRestore = "restore"
	snapStart   = "start"
)

// latencyBuckets span 100µs to ~6.5s: an fdatasync is ~0.3ms on a quiet
// disk and an apply well under a millisecond.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 17)

// snapshotBuckets span 1ms to ~8.7 minutes.
var snapshotBuckets = prometheus.ExponentialBuckets(0.001, 2, 20)

func newMetrics() *metrics {
	m := &metrics{
		proposalsCommitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "concord_node_proposals_committed_total",
			Help: "Commands this node proposed as leader (its own and those followers forwarded) that were committed and applied.",
		}),
		proposalsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_node_proposals_failed_total",
			Help: "Commands this node proposed as leader that failed before an answer, by reason (not_leader, unknown_outcome, disk_full, shutdown, other).",
		}, []string{"reason"}),
		pendingDesc: prometheus.NewDesc("concord_node_proposals_pending",
			"Commands queued or in flight in this node's proposer, waiting to be committed and applied.", nil, nil),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "concord_node_apply_duration_seconds",
			Help:    "Time to apply one log entry (one command or a batch of them) to the state machines.",
			Buckets: latencyBuckets,
		}),
		slowApplies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "concord_node_slow_applies_total",
			Help: "Log entries whose apply took longer than the node's SlowApply threshold (each is also logged at warn level, rate-limited).",
		}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "concord_node_leader_changes_total",
			Help: "Leader changes this node has seen: each time it learns of a leader other than the last one it knew (etcd's leader_changes_seen_total).",
		}),
		snapshotSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "concord_node_snapshot_duration_seconds",
			Help:    "Time to save a snapshot of the state machines (op=save), install one from the leader (op=restore) or read the local one at start (op=start).",
			Buckets: snapshotBuckets,
		}, []string{"op"}),
		snapshotBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "concord_node_snapshot_size_bytes",
			Help: "Size of the state stream of the last snapshot saved (op=save), installed (op=restore) or read at start (op=start); 0 before the first.",
		}, []string{"op"}),
		fsyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "concord_wal_fsync_duration_seconds",
			Help:    "Time of the fdatasync that makes one batch of appended log entries durable.",
			Buckets: latencyBuckets,
		}),
	}
	// Every reason and op exists from the start, so that rate() and
	// alerts see a zero rather than no series.
	for _, r := range []string{failNotLeader, failUnknownOutcome, failDiskFull, failShutdown, failOther} {
		m.proposalsFailed.WithLabelValues(r)
	}
	for _, op := range []string{snapSave, snapRestore, snapStart} {
		m.snapshotSeconds.WithLabelValues(op)
		m.snapshotBytes.WithLabelValues(op)
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.proposalsCommitted, m.proposalsFailed, m.applySeconds, m.slowApplies,
		m.leaderChanges, m.snapshotSeconds, m.snapshotBytes, m.fsyncSeconds}
}

// Describe implements prometheus.Collector: register a Node on the
// registry served on /metrics to export its series.
func (n *Node) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range n.metrics.collectors() {
		c.Describe(ch)
	}
	ch <- n.metrics.pendingDesc
}

// Collect implements prometheus.Collector.
func (n *Node) Collect(ch chan<- prometheus.Metric) {
	for _, c := range n.metrics.collectors() {
		c.Collect(ch)
	}
	ch <- prometheus.MustNewConstMetric(n.metrics.pendingDesc, prometheus.GaugeValue, float64(n.metrics.proposalsPending.Load()))
}

// proposalsDone counts k proposals answered with err (nil: committed).
func (m *metrics) proposalsDone(k int, err error) {
	m.proposalsPending.Add(-int64(k))
	if err == nil {
		m.proposalsCommitted.Add(float64(k))
		return
	}
	m.proposalsFailed.WithLabelValues(failReason(err)).Add(float64(k))
}

// failReason classifies a proposal's failure for the reason label.
func failReason(err error) string {
	switch {
	case errors.Is(err, ErrDiskFull):
		return failDiskFull
	case errors.Is(err, ErrNotLeader):
		return failNotLeader
	case errors.Is(err, ErrUnknownOutcome):
		return failUnknownOutcome
	case errors.Is(err, ErrShutdown):
		return failShutdown
	}
	return failOther
}

// snapshotDone records one snapshot operation.
func (m *metrics) snapshotDone(op string, took time.Duration, size int64) {
	m.snapshotSeconds.WithLabelValues(op).Observe(took.Seconds())
	m.snapshotBytes.WithLabelValues(op).Set(float64(size))
}

// observeSync records one log fdatasync (wal.Options.OnSync).
func (m *metrics) observeSync(d time.Duration) { m.fsyncSeconds.Observe(d.Seconds()) }

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n += int64(k)
	return k, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}
