package resource

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Next given the watch's own context waits on the watch alone (that
// context's end ends the watch) and still returns the context's error when
// it ends; given another context, that context's end returns at once while
// the watch stays open.
func TestWatchNextContexts(t *testing.T) {
	_, b := newLocal(t, Config{})
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := b.WatchList(wctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Next(wctx); err != nil || ev.Kind != EndOfSnapshot {
		t.Fatalf("snapshot: %+v, %v", ev, err)
	}

	// Another context: its deadline ends Next, the watch goes on.
	other, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	if _, err := w.Next(other); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with another context: %v, want its deadline", err)
	}
	writeN(t, b, "Artist", 1)
	if ev, err := w.Next(wctx); err != nil || ev.Kind != Upsert {
		t.Fatalf("event after the other context ended: %+v, %v", ev, err)
	}

	// The watch's own context ending while Next waits on it.
	got := make(chan error, 1)
	go func() {
		_, err := w.Next(wctx)
		got <- err
	}()
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next after the watch's context ended: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next still waiting after the watch's context ended")
	}
}
