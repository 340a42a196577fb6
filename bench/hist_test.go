package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Merging per-worker recorders gives the same distribution as recording
// everything in one histogram, and sums errors and conflicts.
func TestMergeRecorders(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	all := newRecorder()
	var recs []*recorder
	for range 5 {
		recs = append(recs, newRecorder())
	}
	for i := range 10000 {
		d := time.Duration(rng.ExpFloat64()*float64(5*time.Millisecond)) + 100*time.Microsecond
		all.record(d, nil)
		recs[i%5].record(d, nil)
	}
	recs[0].record(time.Millisecond, context.DeadlineExceeded)
	recs[3].record(time.Millisecond, context.DeadlineExceeded)
	recs[4].record(time.Millisecond, rpctypes.ErrGRPCNoLeader)
	recs[2].conflict()

	got := merge(recs)
	if got.hist.TotalCount() != 10000 {
		t.Fatalf("merged count %d, want 10000", got.hist.TotalCount())
	}
	if g, w := summarize(got.hist), summarize(all.hist); g != w {
		t.Errorf("merged percentiles %+v, want %+v", g, w)
	}
	if got.errorCount() != 3 || got.errs["timeout"] != 2 || got.conflicts != 1 {
		t.Errorf("errors %v (total %d), conflicts %d; want 2 timeouts, 1 other, 1 conflict", got.errs, got.errorCount(), got.conflicts)
	}
	// The recorders stay usable and unchanged.
	if recs[0].hist.TotalCount() != 2000 {
		t.Errorf("recorder 0 has %d values after merge, want 2000", recs[0].hist.TotalCount())
	}
}

func TestSummarize(t *testing.T) {
	r := newRecorder()
	for i := 1; i <= 1000; i++ {
		r.record(time.Duration(i)*time.Millisecond, nil)
	}
	l := summarize(r.hist)
	near := func(name string, got, want float64) {
		if got < want*0.99 || got > want*1.01 {
			t.Errorf("%s = %gms, want about %gms", name, got, want)
		}
	}
	near("p50", l.P50, 500)
	near("p90", l.P90, 900)
	near("p99", l.P99, 990)
	near("p99.9", l.P999, 999)
	near("max", l.Max, 1000)
	near("mean", l.Mean, 500.5)
	if (summarize(newHist()) != Latency{}) {
		t.Error("an empty histogram should summarize to zeros")
	}
}

func TestClampMicros(t *testing.T) {
	if got := clampMicros(0); got != histMin {
		t.Errorf("clamp(0) = %d", got)
	}
	if got := clampMicros(time.Hour); got != histMax {
		t.Errorf("clamp(1h) = %d, want %d", got, histMax)
	}
	if got := clampMicros(1500 * time.Microsecond); got != 1500 {
		t.Errorf("clamp(1.5ms) = %d", got)
	}
}

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "timeout"},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), "timeout"},
		{rpctypes.ErrNoLeader, "Unavailable: etcdserver: no leader"},
		{status.Error(codes.ResourceExhausted, "too many requests"), "ResourceExhausted: too many requests"},
		{errors.New("boom"), "boom"},
	} {
		if got := errorKind(tc.err); got != tc.want {
			t.Errorf("errorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
