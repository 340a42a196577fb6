package resource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

var nameSeq atomic.Uint64

// writeN creates n resources of kind with new names.
func writeN(t *testing.T, b *Backend, kind string, n int) []*pbresource.Resource {
	t.Helper()
	var out []*pbresource.Resource
	for range n {
		name := fmt.Sprintf("%s-%d", strings.ToLower(kind), nameSeq.Add(1))
		out = append(out, mustWrite(t, testCtx(t), b, &pbresource.Resource{Id: testID(kind, name), Data: testData("d")}))
	}
	return out
}

func TestWatchResumeCompacted(t *testing.T) {
	_, b := newLocal(t, Config{HistoryEvents: 5})
	writeN(t, b, "Artist", 8) // versions 1..8, history 4..8
	ctx := testCtx(t)
	_, err := b.WatchList(ctx, artists, testTenancy, "", 2)
	var hc HistoryCompactedError
	if !errors.As(err, &hc) || hc.Oldest != 3 || !errors.Is(err, ErrHistoryCompacted) {
		t.Fatalf("resume from 2: %v, want HistoryCompactedError{Oldest: 3}", err)
	}
	w, err := b.WatchList(ctx, artists, testTenancy, "", 3)
	if err != nil {
		t.Fatalf("resume from the oldest resumable version: %v", err)
	}
	defer w.Close()
	for v := uint64(4); v <= 8; v++ {
		if ev := nextEvent(t, w); ev.Version != v {
			t.Fatalf("event at %d, want %d", ev.Version, v)
		}
	}
	// A resume from a version this member has not reached yet waits for it.
	w2, err := b.WatchList(ctx, artists, testTenancy, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	writeN(t, b, "Album", 1) // 9
	writeN(t, b, "Artist", 2)
	if ev := nextEvent(t, w2); ev.Version != 11 {
		t.Fatalf("resume from a future version: first event at %d, want 11", ev.Version)
	}
}

func TestWatchOverflow(t *testing.T) {
	_, b := newLocal(t, Config{WatchBuffer: 3})
	ctx := testCtx(t)
	w, err := b.WatchList(ctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Kind != EndOfSnapshot {
		t.Fatalf("first event %s", ev.Kind)
	}
	writeN(t, b, "Album", 10) // other kind: never queued
	writeN(t, b, "Artist", 5) // the fourth overflows
	evs, err := nextErr(t, w)
	if !errors.Is(err, ErrWatchOverflow) || len(evs) != 3 {
		t.Fatalf("got %d events then %v, want 3 then ErrWatchOverflow", len(evs), err)
	}
	r, err := b.WatchList(ctx, artists, testTenancy, "", evs[2].Version)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, want := range []uint64{evs[2].Version + 1, evs[2].Version + 2} {
		if ev := nextEvent(t, r); ev.Version != want {
			t.Fatalf("resumed after overflow at %d, want %d", ev.Version, want)
		}
	}
}

func TestWatchCloseAndContext(t *testing.T) {
	s, b := newLocal(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	w, err := b.WatchList(ctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, w)
	cancel()
	if _, err := nextErr(t, w); !errors.Is(err, ErrWatchClosed) {
		t.Fatalf("after the context ended: %v", err)
	}
	w2, err := b.WatchList(testCtx(t), artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, w2)
	s.Close()
	if _, err := nextErr(t, w2); !errors.Is(err, ErrWatchClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := b.WatchList(testCtx(t), artists, testTenancy, "", 0); !errors.Is(err, ErrWatchClosed) {
		t.Fatalf("watch on a closed store: %v", err)
	}
	if s.hub.active() != 0 {
		t.Fatalf("%d watches still registered", s.hub.active())
	}
}

// TestRestoreCatchUp: a member whose store is replaced by a newer snapshot
// of the same history (raft installing a snapshot on a lagging follower)
// hands its watches the events they missed, then the ones after.
func TestRestoreCatchUp(t *testing.T) {
	leader, lb := newLocal(t, Config{})
	follower, _ := newLocal(t, Config{})
	writeN(t, lb, "Artist", 3)
	if err := follower.Restore(bytes.NewReader(persist(t, leader))); err != nil {
		t.Fatal(err)
	}
	fb := NewBackend(follower, &localNode{s: follower, index: 100})
	w, err := fb.WatchList(testCtx(t), artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for range 3 {
		nextEvent(t, w)
	}
	if ev := nextEvent(t, w); ev.Kind != EndOfSnapshot || ev.Version != 3 {
		t.Fatalf("end of snapshot %s at %d", ev.Kind, ev.Version)
	}
	writeN(t, lb, "Album", 2)
	writeN(t, lb, "Artist", 4) // versions 6..9
	if err := follower.Restore(bytes.NewReader(persist(t, leader))); err != nil {
		t.Fatal(err)
	}
	for v := uint64(6); v <= 9; v++ {
		if ev := nextEvent(t, w); ev.Version != v || ev.Resource.Id.Type.Kind != "Artist" {
			t.Fatalf("after catch-up restore: event at %d (%s), want %d", ev.Version, ev.Resource.Id.Type.Kind, v)
		}
	}
	// A write applied after the restore comes next.
	mustWrite(t, testCtx(t), fb, &pbresource.Resource{Id: testID("Artist", "late")})
	if ev := nextEvent(t, w); ev.Version != 10 || ev.Resource.Id.Name != "late" {
		t.Fatalf("after restore and write: %d %s", ev.Version, ev.Resource.Id.Name)
	}
}

func TestRestoreEndsWatches(t *testing.T) {
	cases := map[string]struct {
		history    int
		rollback   bool
		behind     bool
		rolledBack bool
	}{
		"history does not reach back": {history: 2},
		"snapshot behind the watches": {behind: true},
		"rollback":                    {rollback: true, rolledBack: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			leader, lb := newLocal(t, Config{HistoryEvents: max(c.history, 100)})
			follower, fb := newLocal(t, Config{})
			writeN(t, fb, "Artist", 3)
			writeN(t, lb, "Artist", 8)
			if c.history > 0 {
				leader.cfg.HistoryEvents = c.history
				writeN(t, lb, "Album", 1)
			}
			snap := persist(t, leader)
			if c.behind {
				empty, _ := newLocal(t, Config{})
				snap = persist(t, empty)
			}
			w, err := fb.WatchList(testCtx(t), artists, testTenancy, "", 3)
			if err != nil {
				t.Fatal(err)
			}
			restore := follower.Restore
			if c.rollback {
				restore = follower.RestoreRollback
			}
			if err := restore(bytes.NewReader(snap)); err != nil {
				t.Fatal(err)
			}
			_, err = nextErr(t, w)
			var hc HistoryCompactedError
			if !errors.As(err, &hc) || hc.RolledBack != c.rolledBack {
				t.Fatalf("watch ended with %v, want HistoryCompactedError (rolled back %v)", err, c.rolledBack)
			}
		})
	}
}
