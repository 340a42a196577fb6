package wal

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// step is one operation of a conformance case.
type step struct {
	store      bool   // StoreLogs(entries(lo, hi, term)), else DeleteRange(lo, hi)
	lo, hi     uint64 //
	term       uint64
	raw        []*raft.Log // StoreLogs(raw) instead, when set
	wantErr    error       // nil: must succeed; else errors.Is must match and nothing may change
	wantAnyErr bool        // must fail, with no particular error
}

func store(lo, hi, term uint64) step { return step{store: true, lo: lo, hi: hi, term: term} }
func del(lo, hi uint64) step         { return step{lo: lo, hi: hi} }
func fails(s step, err error) step {
	s.wantErr, s.wantAnyErr = err, err == nil
	return s
}

// conformance is what every raft.LogStore operation must do, checked
// against the model after each step.
var conformance = []struct {
	name  string
	steps []step
}{
	{"empty", nil},
	{"store one", []step{store(1, 1, 1)}},
	{"store a batch", []step{store(1, 100, 1)}},
	{"store batches", []step{store(1, 10, 1), store(11, 11, 1), store(12, 60, 2)}},
	{"first batch at any index", []step{store(1000, 1010, 3)}},
	{"delete head", []step{store(1, 100, 1), del(1, 40)}},
	{"delete head twice", []step{store(1, 100, 1), del(1, 40), del(41, 70)}},
	{"delete head from below first", []step{store(1, 100, 1), del(1, 40), del(0, 50)}},
	{"delete head then append", []step{store(1, 100, 1), del(1, 40), store(101, 120, 2)}},
	{"delete tail", []step{store(1, 100, 1), del(61, 100)}},
	{"delete tail past last", []step{store(1, 100, 1), del(61, 1000)}},
	{"delete tail of one", []step{store(1, 100, 1), del(100, 100)}},
	{"delete tail then append new term", []step{store(1, 100, 1), del(61, 100), store(61, 80, 2)}},
	{"delete tail twice", []step{store(1, 100, 1), del(61, 100), store(61, 80, 2), del(70, 80), store(70, 90, 3)}},
	{"delete head and tail", []step{store(1, 100, 1), del(1, 30), del(90, 100), store(90, 95, 2), del(31, 50)}},
	{"delete all", []step{store(1, 100, 1), del(1, 100)}},
	{"delete all from 0", []step{store(1, 100, 1), del(0, 1<<40)}},
	{"delete all then store above", []step{store(1, 100, 1), del(1, 100), store(500, 510, 2)}},
	// After raft installs a snapshot older than a follower's stale tail,
	// the emptied log restarts below its old last index.
	{"delete all then store below", []step{store(1, 100, 1), del(1, 100), store(50, 60, 2)}},
	{"delete head then all then store below", []step{store(1, 100, 1), del(1, 80), del(81, 100), store(10, 20, 2)}},
	{"delete on empty", []step{del(0, 10)}},
	{"delete outside", []step{store(10, 20, 1), del(1, 5), del(30, 40)}},
	{"delete middle", []step{store(1, 100, 1), fails(del(10, 20), ErrMiddleDelete)}},
	{"delete inverted", []step{store(1, 100, 1), fails(del(20, 10), nil)}},
	{"gap", []step{store(1, 10, 1), fails(store(12, 20, 1), ErrNotContiguous)}},
	{"overlap", []step{store(1, 10, 1), fails(store(10, 20, 1), ErrNotContiguous)}},
	{"batch with a hole", []step{store(1, 10, 1),
		fails(step{store: true, raw: []*raft.Log{entry(11, 1), entry(12, 1), entry(14, 1)}}, ErrNotContiguous)}},
	{"batch out of order", []step{fails(step{store: true, raw: []*raft.Log{entry(2, 1), entry(1, 1)}}, ErrNotContiguous)}},
	{"index zero", []step{fails(store(0, 3, 1), ErrNotContiguous)}},
	{"empty batch", []step{store(1, 10, 1), {store: true, raw: []*raft.Log{}}}},
}

// TestConformance runs every case with large and tiny segments, with and
// without closing and reopening the log after each step.
func TestConformance(t *testing.T) {
	for _, tc := range conformance {
		for _, seg := range []int64{0, tinySegments} {
			for _, reopen := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/segment=%d/reopen=%v", tc.name, seg, reopen), func(t *testing.T) {
					dir := t.TempDir()
					l := openLog(t, dir, seg)
					var m model
					for i, s := range tc.steps {
						err := runStep(l, s)
						switch {
						case s.wantErr != nil && !errors.Is(err, s.wantErr):
							t.Fatalf("step %d: %v, want %v", i, err, s.wantErr)
						case s.wantAnyErr && err == nil:
							t.Fatalf("step %d: succeeded, want an error", i)
						case s.wantErr == nil && !s.wantAnyErr && err != nil:
							t.Fatalf("step %d: %v", i, err)
						case err == nil && s.store && s.raw == nil:
							m.store(s.lo, s.hi, s.term)
						case err == nil && !s.store:
							m.deleteRange(s.lo, s.hi)
						}
						checkModel(t, l, m)
						if reopen {
							if err := l.Close(); err != nil {
								t.Fatal(err)
							}
							l = openLog(t, dir, seg)
							checkModel(t, l, m)
						}
					}
					// The log still takes appends after every case.
					next := m.last() + 1
					if err := l.StoreLogs(entries(next, next+2, 9)); err != nil {
						t.Fatalf("append after the case: %v", err)
					}
					m.store(next, next+2, 9)
					checkModel(t, l, m)
				})
			}
		}
	}
}

func runStep(l *Log, s step) error {
	switch {
	case s.raw != nil:
		return l.StoreLogs(s.raw)
	case s.store:
		return l.StoreLogs(entries(s.lo, s.hi, s.term))
	default:
		return l.DeleteRange(s.lo, s.hi)
	}
}

func TestStoreLogKeepsEveryField(t *testing.T) {
	l := openLog(t, t.TempDir(), 0)
	want := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("conf")},
		{Index: 2, Term: 1, Type: raft.LogNoop},
		{Index: 3, Term: 5, Type: raft.LogCommand, Data: make([]byte, 1<<20), Extensions: []byte("e")},
		{Index: 4, Term: 5, Type: raft.LogBarrier, Extensions: []byte("only extensions")},
	}
	for _, w := range want {
		if err := l.StoreLog(w); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range want {
		var got raft.Log
		if err := l.GetLog(w.Index, &got); err != nil {
			t.Fatal(err)
		}
		if !sameEntry(&got, w) || !got.AppendedAt.IsZero() {
			t.Fatalf("entry %d: got %+v, want %+v", w.Index, got, w)
		}
	}
}

func TestStableStore(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 0)
	if v, err := l.Get([]byte("CurrentTerm")); !errors.Is(err, ErrNotFound) || err.Error() != "not found" || v != nil {
		t.Fatalf("missing key: %q %v; raft wants the error text \"not found\"", v, err)
	}
	if v, err := l.GetUint64([]byte("CurrentTerm")); err != nil || v != 0 {
		t.Fatalf("missing uint64: %d %v", v, err)
	}
	if has, err := raft.HasExistingState(l, l, raft.NewInmemSnapshotStore()); err != nil || has {
		t.Fatalf("fresh log has state: %v %v", has, err)
	}
	sets := []struct{ k, v string }{{"CurrentTerm", "\x00\x00\x00\x00\x00\x00\x00\x07"}, {"LastVoteCand", "n2"},
		{"LastVoteCand", "n3"}, {"empty", ""}}
	for _, s := range sets {
		if err := l.Set([]byte(s.k), []byte(s.v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.SetUint64([]byte("LastVoteTerm"), 1<<40); err != nil {
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		want := map[string]string{"CurrentTerm": "\x00\x00\x00\x00\x00\x00\x00\x07", "LastVoteCand": "n3", "empty": ""}
		for k, w := range want {
			if v, err := l.Get([]byte(k)); err != nil || string(v) != w || v == nil {
				t.Fatalf("%s: %q %v, want %q", k, v, err, w)
			}
		}
		if v, err := l.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
			t.Fatalf("CurrentTerm: %d %v", v, err)
		}
		if v, err := l.GetUint64([]byte("LastVoteTerm")); err != nil || v != 1<<40 {
			t.Fatalf("LastVoteTerm: %d %v", v, err)
		}
		if _, err := l.GetUint64([]byte("LastVoteCand")); err == nil {
			t.Fatal("a 2-byte value read as a uint64")
		}
		if has, err := raft.HasExistingState(l, l, raft.NewInmemSnapshotStore()); err != nil || !has {
			t.Fatalf("log with a term has no state: %v %v", has, err)
		}
	}
	check(l)
	l.Close()
	check(openLog(t, dir, 0))
}

func TestClosed(t *testing.T) {
	l := openLog(t, t.TempDir(), 0)
	if err := l.StoreLogs(entries(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	errs := map[string]error{"Close": l.Close(), "StoreLogs": l.StoreLogs(entries(4, 4, 1)), "DeleteRange": l.DeleteRange(1, 1),
		"GetLog": l.GetLog(1, &raft.Log{}), "Set": l.Set([]byte("k"), nil)}
	_, errs["FirstIndex"] = l.FirstIndex()
	_, errs["LastIndex"] = l.LastIndex()
	_, errs["Get"] = l.Get([]byte("k"))
	for name, err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestIsMonotonic(t *testing.T) {
	var s raft.LogStore = openLog(t, t.TempDir(), 0)
	if m, ok := s.(raft.MonotonicLogStore); !ok || !m.IsMonotonic() {
		t.Fatal("the log refuses gaps, so raft must treat it as monotonic")
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, size := range []int64{-1, MaxSegmentSize + 1} {
		if err := (Options{SegmentSize: size}).Validate(); err == nil {
			t.Errorf("SegmentSize %d accepted", size)
		}
		if _, err := Open(t.TempDir(), Options{SegmentSize: size}); err == nil {
			t.Errorf("Open with SegmentSize %d succeeded", size)
		}
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
	if got := (Options{}).withDefaults().SegmentSize; got != DefaultSegmentSize {
		t.Errorf("default segment size %d", got)
	}
}

// TestStoreLogsSyncsOnce checks the point of the package: one fdatasync per
// batch, and one more (the directory) when the batch starts a segment.
func TestStoreLogsSyncsOnce(t *testing.T) {
	l := openLog(t, t.TempDir(), 64<<10)
	next := uint64(1)
	var rotations int
	for range 100 {
		segs := len(segmentFiles(t, l.dir))
		before := syncs.Load()
		if err := l.StoreLogs(entries(next, next+63, 1)); err != nil {
			t.Fatal(err)
		}
		next += 64
		want := uint64(1)
		if len(segmentFiles(t, l.dir)) != segs {
			want, rotations = 2, rotations+1
		}
		if got := syncs.Load() - before; got != want {
			t.Fatalf("batch at %d: %d syncs, want %d", next-64, got, want)
		}
	}
	if rotations < 2 {
		t.Fatalf("only %d new segments: the test does not cover rotation", rotations)
	}
}
