package resource_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/resource"
)

// TestSnapshotInstall isolates a member holding a watch while the others
// write enough for the leader to snapshot and truncate its log, then heals
// it: the member catches up by installing the snapshot, its store then
// holds the same resources (uids, versions, generations, owners, the owner
// index), its watch got every event in between, and a watch resumes on it
// from a version older than the snapshot.
func TestSnapshotInstall(t *testing.T) {
	rc := newRCluster(t, resource.Config{}, testcluster.Options{
		SnapshotThreshold: 32, SnapshotInterval: 50 * time.Millisecond, TrailingLogs: 8,
	})
	leader := rc.WaitLeader(t, 30*time.Second)
	var lagger string
	for _, id := range rc.LiveIDs() {
		if id != leader {
			lagger = id
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lb := rc.backend(leader)
	owner, err := lb.WriteCAS(ctx, &pbresource.Resource{Id: &pbresource.ID{Type: &pbresource.Type{Group: "demo", GroupVersion: "v1", Kind: "Artist"}, Tenancy: tenancy, Name: "owner"}})
	if err != nil {
		t.Fatal(err)
	}
	rc.WaitFor(t, 30*time.Second, func() bool { return rc.store(lagger).Revision() >= 1 }, "the lagger to apply the owner")
	w, err := rc.backend(lagger).WatchList(ctx, albums, tenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev, err := w.Next(ctx); err != nil || ev.Kind != resource.EndOfSnapshot {
		t.Fatalf("first event %v, %v", ev, err)
	}

	rc.Isolate(lagger)
	var wrote []*pbresource.Resource
	for i := range 120 {
		r := &pbresource.Resource{Id: albumID(fmt.Sprintf("a%d", i%40)), Metadata: map[string]string{"i": strconv.Itoa(i)}}
		if i%3 == 0 {
			r.Owner = owner.Id
		}
		if i >= 40 {
			cur, err := lb.Read(ctx, resource.EventualConsistency, r.Id)
			if err != nil {
				t.Fatal(err)
			}
			r.Id, r.Version = cur.Id, cur.Version
		}
		out, err := lb.WriteCAS(ctx, r)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		wrote = append(wrote, out)
	}
	before := rc.store(lagger).Revision()
	rc.Heal()
	final := rc.store(leader).Revision()
	rc.WaitFor(t, 60*time.Second, func() bool { return rc.store(lagger).Revision() >= final }, "the lagger to catch up")
	if before != 1 {
		t.Fatalf("the isolated member applied up to %d while cut off", before)
	}

	// The watch saw every write, in order.
	for i, want := range wrote {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Kind != resource.Upsert || ev.Resource.Version != want.Version || ev.Resource.Id.Name != want.Id.Name {
			t.Fatalf("event %d: %s %s@%s, want upsert %s@%s", i, ev.Kind, ev.Resource.Id.Name, ev.Resource.Version, want.Id.Name, want.Version)
		}
	}

	// Same state, read locally on both.
	all := func(id string) []*pbresource.Resource {
		rs, err := rc.backend(id).List(ctx, resource.EventualConsistency, albums, tenancy, "")
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	lr, gr := all(leader), all(lagger)
	if len(lr) != 40 || len(gr) != len(lr) {
		t.Fatalf("leader has %d albums, the lagger %d", len(lr), len(gr))
	}
	for i := range lr {
		if !proto.Equal(lr[i], gr[i]) {
			t.Fatalf("leader has %v, the lagger %v", lr[i], gr[i])
		}
	}
	lo, _ := rc.backend(leader).ListByOwner(ctx, resource.EventualConsistency, owner.Id)
	go_, _ := rc.backend(lagger).ListByOwner(ctx, resource.EventualConsistency, owner.Id)
	if len(lo) == 0 || len(lo) != len(go_) {
		t.Fatalf("owner index: leader %d owned, the lagger %d", len(lo), len(go_))
	}

	// A watch resumes on the lagger from before its snapshot.
	from, _ := strconv.ParseUint(wrote[9].Version, 10, 64)
	rw, err := rc.backend(lagger).WatchList(ctx, albums, tenancy, "", from)
	if err != nil {
		t.Fatalf("resume from %d on the member that installed a snapshot: %v", from, err)
	}
	defer rw.Close()
	if ev, err := rw.Next(ctx); err != nil || ev.Resource.Version != wrote[10].Version {
		t.Fatalf("resumed at %v, %v; want %s", ev, err, wrote[10].Version)
	}
}
