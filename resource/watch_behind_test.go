package resource

import (
	"errors"
	"testing"
)

// A watch reads its events from the store's shared history, which keeps
// at least four times WatchBuffer events beyond HistoryEvents: a watch of
// a quiet type that reads late still gets its events although other types
// were written more often than either limit in between.
func TestWatchReadsBehindPastHistoryEvents(t *testing.T) {
	_, b := newLocal(t, Config{HistoryEvents: 2, WatchBuffer: 3}) // 12 events kept
	ctx := testCtx(t)
	w, err := b.WatchList(ctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev := nextEvent(t, w); ev.Kind != EndOfSnapshot {
		t.Fatalf("first event %s", ev.Kind)
	}
	writeN(t, b, "Artist", 1)
	writeN(t, b, "Album", 10)
	writeN(t, b, "Artist", 1)
	for _, want := range []uint64{1, 12} {
		if ev := nextEvent(t, w); ev.Version != want || ev.Resource.Id.Type.Kind != "Artist" {
			t.Fatalf("event at %d (%s), want the Artist at %d", ev.Version, ev.Resource.Id.Type.Kind, want)
		}
	}
}

// A watch further behind than every event the store keeps has lost some:
// it ends with ErrWatchOverflow (counted) instead of skipping them, also
// when it was opened on an empty store at version 0.
func TestWatchBehindEverythingKeptOverflows(t *testing.T) {
	s, b := newLocal(t, Config{HistoryEvents: 2, WatchBuffer: 1}) // 4 events kept
	ctx := testCtx(t)
	w, err := b.WatchList(ctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev := nextEvent(t, w); ev.Kind != EndOfSnapshot || ev.Version != 0 {
		t.Fatalf("first event %s at %d", ev.Kind, ev.Version)
	}
	writeN(t, b, "Artist", 1) // version 1, then gone from memory
	writeN(t, b, "Album", 8)
	evs, err := nextErr(t, w)
	if !errors.Is(err, ErrWatchOverflow) || len(evs) != 0 {
		t.Fatalf("got %d events then %v, want ErrWatchOverflow at once", len(evs), err)
	}
	if n := s.metrics.overflows.Load(); n != 1 {
		t.Fatalf("overflows counted %d, want 1", n)
	}
	if s.hub.active() != 0 {
		t.Fatalf("%d watches still registered", s.hub.active())
	}
}
