package resource_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/resource"
)

// TestDurableAcrossCrashOfAll: every acknowledged write survives all
// members crashing at once (kill -9: only what was fsynced survives) and
// restarting, with the same uids, versions and generations.
func TestDurableAcrossCrashOfAll(t *testing.T) {
	rc := newRCluster(t, resource.Config{}, testcluster.Options{})
	rc.WaitLeader(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	acked := map[string]*pbresource.Resource{}
	for i := range 30 {
		id := rc.LiveIDs()[i%3]
		out, err := rc.backend(id).WriteCAS(ctx, &pbresource.Resource{Id: albumID(fmt.Sprintf("d%d", i)), Data: nil, Metadata: map[string]string{"i": fmt.Sprint(i)}})
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		acked[out.Id.Name] = out
	}
	for _, id := range rc.IDs() {
		rc.crash(id)
	}
	for _, id := range rc.IDs() {
		rc.Restart(id)
	}
	rc.WaitLeader(t, 30*time.Second)
	for _, id := range rc.IDs() {
		list, err := rc.backend(id).List(ctx, resource.StrongConsistency, albums, tenancy, "")
		if err != nil {
			t.Fatalf("strong list on %s: %v", id, err)
		}
		if len(list) != len(acked) {
			t.Fatalf("%s lists %d albums after the restart, %d were acknowledged", id, len(list), len(acked))
		}
		for _, r := range list {
			if !proto.Equal(r, acked[r.Id.Name]) {
				t.Fatalf("%s has %v, acknowledged %v", id, r, acked[r.Id.Name])
			}
		}
	}
}

// TestStrongReadOnIsolatedMember: a member cut off from the others cannot
// serve a strong read (ErrInconsistent) but still serves an eventual one.
func TestStrongReadOnIsolatedMember(t *testing.T) {
	rc := newRCluster(t, resource.Config{}, testcluster.Options{})
	leader := rc.WaitLeader(t, 30*time.Second)
	ctx := context.Background()
	out, err := rc.backend(leader).WriteCAS(ctx, &pbresource.Resource{Id: albumID("x")})
	if err != nil {
		t.Fatal(err)
	}
	var follower string
	for _, id := range rc.LiveIDs() {
		if id != leader {
			follower = id
		}
	}
	rc.WaitFor(t, 30*time.Second, func() bool { return rc.store(follower).Revision() >= 1 }, "the follower to apply the write")
	rc.Isolate(follower)
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	b := rc.backend(follower)
	if _, err := b.Read(rctx, resource.StrongConsistency, out.Id); !errors.Is(err, resource.ErrInconsistent) {
		t.Fatalf("strong read on an isolated member: %v, want ErrInconsistent", err)
	}
	if got, err := b.Read(ctx, resource.EventualConsistency, out.Id); err != nil || got.Version != out.Version {
		t.Fatalf("eventual read on an isolated member: %v, %v", got, err)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Second)
	defer wcancel()
	if _, err := b.WriteCAS(wctx, &pbresource.Resource{Id: albumID("y")}); !errors.Is(err, resource.ErrInconsistent) {
		t.Fatalf("write through an isolated member: %v, want ErrInconsistent", err)
	}
}

// TestRollback: node.Rollback to an earlier snapshot puts every member's
// store back to it (validated first) and ends every watch as rolled back.
func TestRollback(t *testing.T) {
	rc := newRCluster(t, resource.Config{}, testcluster.Options{})
	leader := rc.WaitLeader(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lb := rc.backend(leader)
	kept, err := lb.WriteCAS(ctx, &pbresource.Resource{Id: albumID("kept")})
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if _, err := rc.Node(leader).WriteSnapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.WriteCAS(ctx, &pbresource.Resource{Id: albumID("dropped")}); err != nil {
		t.Fatal(err)
	}
	var watches []*resource.Watch
	for _, id := range rc.LiveIDs() {
		rc.WaitFor(t, 30*time.Second, func() bool { return rc.store(id).Revision() >= 2 }, id+" to apply both writes")
		w, err := rc.backend(id).WatchList(ctx, albums, tenancy, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		watches = append(watches, w)
	}
	if err := rc.Node(leader).Rollback(ctx, bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	for i, w := range watches {
		var err error
		for err == nil {
			_, err = w.Next(ctx)
		}
		var hc resource.HistoryCompactedError
		if !errors.As(err, &hc) || !hc.RolledBack {
			t.Fatalf("watch %d ended with %v, want a rolled-back HistoryCompactedError", i, err)
		}
	}
	for _, id := range rc.LiveIDs() {
		list, err := rc.backend(id).List(ctx, resource.StrongConsistency, albums, tenancy, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || !proto.Equal(list[0], kept) {
			t.Fatalf("%s after rollback: %v, want only %v", id, list, kept)
		}
	}
}
