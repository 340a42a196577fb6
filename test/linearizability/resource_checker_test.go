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
