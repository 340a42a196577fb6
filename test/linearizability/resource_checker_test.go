package linearizability

import (
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/encoding/protowire"
)

// watchEvent builds an event as concord sends it: version in field 1001.
func watchEvent(kind, name string, version uint64) *pbresource.WatchEvent {
	res := &pbresource.Resource{Id: linResID(name), Version: strconv.FormatUint(version, 10)}
	var ev *pbresource.WatchEvent
	switch kind {
	case "upsert":
		ev = &pbresource.WatchEvent{Event: &pbresource.WatchEvent_Upsert_{Upsert: &pbresource.WatchEvent_Upsert{Resource: res}}}
	case "delete":
		ev = &pbresource.WatchEvent{Event: &pbresource.WatchEvent_Delete_{Delete: &pbresource.WatchEvent_Delete{Resource: res}}}
	default:
		ev = &pbresource.WatchEvent{Event: &pbresource.WatchEvent_EndOfSnapshot_{EndOfSnapshot: &pbresource.WatchEvent_EndOfSnapshot{}}}
	}
	b := protowire.AppendTag(nil, eventVersionField, protowire.VarintType)
	ev.ProtoReflect().SetUnknown(protowire.AppendVarint(b, version))
	return ev
}

// feed runs events through a fresh watcher: a snapshot of r0 at version 3,
// then evs.
func feed(t *testing.T, evs ...*pbresource.WatchEvent) *resWatcher {
	t.Helper()
	w := &resWatcher{state: map[string]string{}, seen: map[uint64]string{}}
	snap := map[string]string{}
	for _, ev := range append([]*pbresource.WatchEvent{watchEvent("upsert", "r0", 3), watchEvent("end", "", 3)}, evs...) {
		if err := w.event(ev, snap); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// TestCheckWatchers shows the watch checks catch each way a watch can go
// wrong: a missed write, a duplicate, an event out of order, a state that
// disagrees with the List, and two watchers that saw different changes.
func TestCheckWatchers(t *testing.T) {
	good := func() []*pbresource.WatchEvent {
		return []*pbresource.WatchEvent{watchEvent("upsert", "r1", 4), watchEvent("upsert", "r0", 5), watchEvent("delete", "r1", 6)}
	}
	list := map[string]string{"r0": "5"}
	wrote := map[uint64]string{4: "r1", 5: "r0"}
	cases := []struct {
		name     string
		watchers [][]*pbresource.WatchEvent
		list     map[string]string
		want     string // "" for no violation
	}{
		{"agree", [][]*pbresource.WatchEvent{good(), good()}, list, ""},
		{"missed write", [][]*pbresource.WatchEvent{good(), {watchEvent("upsert", "r0", 5), watchEvent("delete", "r1", 6)}}, list, "missed 1 acknowledged writes"},
		{"duplicate", [][]*pbresource.WatchEvent{append(good(), watchEvent("delete", "r1", 6))}, list, "duplicate or out of order"},
		{"out of order", [][]*pbresource.WatchEvent{{watchEvent("upsert", "r0", 5), watchEvent("upsert", "r1", 4), watchEvent("delete", "r1", 6)}}, list, "duplicate or out of order"},
		{"state differs from List", [][]*pbresource.WatchEvent{good()}, map[string]string{"r0": "5", "r2": "7"}, "disagrees with a strong List"},
		{"watchers differ", [][]*pbresource.WatchEvent{good(), append(good(), watchEvent("upsert", "r9", 8))}, list, "watcher 1 saw 4 changes"},
		{"version mismatch", [][]*pbresource.WatchEvent{{watchEvent("upsert", "r1", 4), func() *pbresource.WatchEvent {
			ev := watchEvent("upsert", "r0", 5)
			ev.GetUpsert().Resource.Version = "9"
			return ev
		}(), watchEvent("delete", "r1", 6)}}, list, "carries resource version 9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ws []*resWatcher
			for i, evs := range c.watchers {
				w := feed(t, evs...)
				w.id = i
				ws = append(ws, w)
			}
			bad := checkWatchers(ws, c.list, wrote)
			got := strings.Join(bad, "; ")
			if c.want == "" && len(bad) > 0 {
				t.Fatalf("violations for a good run: %s", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("got %q, want a violation containing %q", got, c.want)
			}
		})
	}
}

// TestWatcherResumeAfterEmptySnapshot is the seed-393929 false alarm: a
// watcher whose snapshot was of the empty store (version 0) saw no event
// before its stream broke, and came back after two writes. The API reads
// from-version 0 as "start with a snapshot", so a resume from 0 got the
// snapshot at version 2 and the checks saw an upsert at event version 2
// carrying resource version 1, a duplicate, two missed writes and two
// watchers that disagree. The watcher must start again from the snapshot
// instead, and then agrees with one that saw every write.
func TestWatcherResumeAfterEmptySnapshot(t *testing.T) {
	// serve answers a stream begun by w as the API does: a snapshot of
	// state at version rev without a from-version or with 0, else the
	// history after from.
	type write struct {
		name    string
		version uint64
	}
	serve := func(w *resWatcher, rev uint64, hist []write) {
		t.Helper()
		from, resume := w.begin(func() {})
		var evs []*pbresource.WatchEvent
		if !resume || from == 0 {
			for _, wr := range hist {
				ev := watchEvent("upsert", wr.name, rev)
				ev.GetUpsert().Resource.Version = strconv.FormatUint(wr.version, 10)
				evs = append(evs, ev)
			}
			evs = append(evs, watchEvent("end", "", rev))
		} else {
			for _, wr := range hist {
				if wr.version > from {
					evs = append(evs, watchEvent("upsert", wr.name, wr.version))
				}
			}
		}
		snap := map[string]string{}
		for _, ev := range evs {
			if err := w.event(ev, snap); err != nil {
				t.Fatal(err)
			}
		}
	}
	hist := []write{{"r0", 1}, {"r1", 2}}
	gone := &resWatcher{id: 0, state: map[string]string{}, seen: map[uint64]string{}}
	serve(gone, 0, nil)  // the empty store's snapshot, then the stream breaks
	serve(gone, 2, hist) // back after r0 and r1 were written
	stayed := &resWatcher{id: 1, state: map[string]string{}, seen: map[uint64]string{}}
	serve(stayed, 0, nil)
	for _, wr := range hist {
		if err := stayed.event(watchEvent("upsert", wr.name, wr.version), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []*resWatcher{gone, stayed} {
		if err := w.event(watchEvent("upsert", "r2", 3), nil); err != nil {
			t.Fatal(err)
		}
	}
	list := map[string]string{"r0": "1", "r1": "2", "r2": "3"}
	wrote := map[uint64]string{1: "r0", 2: "r1", 3: "r2"}
	if bad := checkWatchers([]*resWatcher{gone, stayed}, list, wrote); len(bad) > 0 {
		t.Fatalf("violations for a good run: %s", strings.Join(bad, "; "))
	}
	if gone.from != 2 || gone.snaps != 2 || gone.resumes != 0 {
		t.Fatalf("the watcher back after the writes is from %d after %d snapshots and %d resumes, want from 2 after 2 and 0",
			gone.from, gone.snaps, gone.resumes)
	}
}
