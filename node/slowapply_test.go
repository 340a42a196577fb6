package node

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/metricstest"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// TestSlowApply: an apply past the threshold is counted and logged; one
// within it is not; a burst of slow applies logs one line per interval,
// with the count of those not logged.
func TestSlowApply(t *testing.T) {
	var logs bytes.Buffer
	f := newFSM(slog.New(slog.NewTextHandler(&logs, nil)))
	f.slowApply = 100 * time.Millisecond
	l := &raft.Log{Index: 7, Data: []byte("cmd")}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f.metrics.slowApplies, f.metrics.applySeconds)
	slow := func() float64 { return metricstest.Gather(t, reg).Must(t, "concord_node_slow_applies_total") }

	f.observeApply(l, 50*time.Millisecond)
	if n := slow(); n != 0 || logs.Len() != 0 {
		t.Fatalf("a fast apply: counted %v, logged %q", n, logs.String())
	}
	f.observeApply(l, 150*time.Millisecond)
	if n := slow(); n != 1 || !strings.Contains(logs.String(), "slow apply") ||
		!strings.Contains(logs.String(), "index=7") || !strings.Contains(logs.String(), "took=150ms") {
		t.Fatalf("a slow apply: counted %v, logged %q", n, logs.String())
	}
	for range 5 {
		f.observeApply(l, time.Second)
	}
	if n := slow(); n != 6 || strings.Count(logs.String(), "slow apply") != 1 {
		t.Fatalf("a burst: counted %v, logged %q", n, logs.String())
	}
	f.slow.last = f.slow.last.Add(-slowApplyEvery) // the interval has passed
	f.observeApply(l, time.Second)
	if strings.Count(logs.String(), "slow apply") != 2 || !strings.Contains(logs.String(), "not_logged_since_last=5") {
		t.Fatalf("after the interval: logged %q", logs.String())
	}
	if n := metricstest.Gather(t, reg).Must(t, "concord_node_apply_duration_seconds"); n != 8 {
		t.Fatalf("applies timed: %v, want 8", n)
	}
}
