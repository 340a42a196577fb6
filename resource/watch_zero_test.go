package resource

import (
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

// TestWatchFromVersionZeroIsFresh pins down the decision on version 0: a
// watch "from version 0" is a fresh watch (the current state as upserts,
// then EndOfSnapshot), never a replay of the history from the first
// write, because 0 is also what WatchList takes for "no version". A
// client whose last event was the EndOfSnapshot of an empty store
// (version 0) therefore starts again with a snapshot: it gets every
// resource that exists, at the snapshot's version, and none of the
// changes in between as events (here B, created and deleted, never
// appears). Any version above 0 resumes event for event.
func TestWatchFromVersionZeroIsFresh(t *testing.T) {
	_, b := newLocal(t, Config{})
	ctx := testCtx(t)
	w, err := b.WatchList(ctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Kind != EndOfSnapshot || ev.Version != 0 {
		t.Fatalf("watch of the empty store: %v at %d, want EndOfSnapshot at 0", ev.Kind, ev.Version)
	}
	w.Close()
	a := mustWrite(t, ctx, b, &pbresource.Resource{Id: testID("Artist", "a")})  // 1
	bb := mustWrite(t, ctx, b, &pbresource.Resource{Id: testID("Artist", "b")}) // 2
	if err := b.DeleteCAS(ctx, bb.Id, bb.Version); err != nil {                 // 3
		t.Fatal(err)
	}

	w, err = b.WatchList(ctx, artists, testTenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev := nextEvent(t, w); ev.Kind != Upsert || ev.Resource.Id.Name != "a" || ev.Version != 3 || ev.Resource.Version != a.Version {
		t.Fatalf("watch from 0 after writes: first event %v %s at %d, want the snapshot's upsert of a at 3", ev.Kind, ev.Resource.GetId().GetName(), ev.Version)
	}
	if ev := nextEvent(t, w); ev.Kind != EndOfSnapshot || ev.Version != 3 {
		t.Fatalf("watch from 0: second event %v at %d, want EndOfSnapshot at 3", ev.Kind, ev.Version)
	}

	// From version 1 it is a resume: b's upsert and delete, nothing else.
	r, err := b.WatchList(ctx, artists, testTenancy, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, want := range []struct {
		kind    EventKind
		version uint64
	}{{Upsert, 2}, {Delete, 3}} {
		if ev := nextEvent(t, r); ev.Kind != want.kind || ev.Version != want.version || ev.Resource.Id.Name != "b" {
			t.Fatalf("resume from 1: %v of %s at %d, want %v of b at %d", ev.Kind, ev.Resource.GetId().GetName(), ev.Version, want.kind, want.version)
		}
	}
}
