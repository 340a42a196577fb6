package resource

import (
	"errors"
	"testing"
)

// NextBatch hands over the snapshot and then everything queued since the
// last call, in order, never more than the buffer holds, and ends like
// Next.
func TestWatchNextBatch(t *testing.T) {
	_, b := newLocal(t, Config{})
	writeN(t, b, "Artist", 3) // versions 1..3
	ctx := testCtx(t)
	w, err := b.WatchList(ctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]Event, 0, 2)
	// The snapshot: 3 upserts and EndOfSnapshot, at most 2 per batch.
	var snap []Event
	for len(snap) < 4 {
		evs, err := w.NextBatch(ctx, buf)
		if err != nil || len(evs) == 0 || len(evs) > 2 {
			t.Fatalf("snapshot batch: %d events, %v", len(evs), err)
		}
		snap = append(snap, evs...)
	}
	if snap[3].Kind != EndOfSnapshot || snap[0].Kind != Upsert || snap[0].Version != 3 {
		t.Fatalf("snapshot %+v", snap)
	}
	// Five writes queue five events; a 16-event buffer takes them in as
	// few batches as they arrived in, all in version order.
	writeN(t, b, "Artist", 5) // versions 4..8
	buf = make([]Event, 0, 16)
	want := uint64(4)
	for want <= 8 {
		evs, err := w.NextBatch(ctx, buf)
		if err != nil || len(evs) == 0 {
			t.Fatalf("batch: %d events, %v", len(evs), err)
		}
		for _, ev := range evs {
			if ev.Version != want || ev.Kind != Upsert {
				t.Fatalf("event %d/%v, want version %d", ev.Version, ev.Kind, want)
			}
			want++
		}
	}
	// writeN returns once its events are queued: one batch takes them all.
	writeN(t, b, "Artist", 4) // 9..12
	evs, err := w.NextBatch(ctx, buf)
	if err != nil || len(evs) != 4 || evs[0].Version != 9 || evs[3].Version != 12 {
		t.Fatalf("queued events in one batch: %d events, %v", len(evs), err)
	}
	w.Close()
	if evs, err := w.NextBatch(ctx, buf); !errors.Is(err, ErrWatchClosed) || len(evs) != 0 {
		t.Fatalf("after Close: %d events, %v, want ErrWatchClosed", len(evs), err)
	}
}
