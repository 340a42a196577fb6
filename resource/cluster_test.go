package resource_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/resource/resourcetest"
)

// rcluster is a testcluster whose members each register a resource Store.
type rcluster struct {
	*testcluster.Cluster
	mu     sync.Mutex
	stores map[string]*resource.Store // latest incarnation of each member
}

func newRCluster(t *testing.T, cfg resource.Config, opts testcluster.Options) *rcluster {
	t.Helper()
	rc := &rcluster{stores: map[string]*resource.Store{}}
	if cfg.Logger == nil {
		cfg.Logger = testcluster.NewLogger(t)
	}
	opts.Register = func(id string, n *node.Node) error {
		s, err := resource.Open(cfg)
		if err != nil {
			return err
		}
		rc.mu.Lock()
		if old := rc.stores[id]; old != nil {
			old.Close()
		}
		rc.stores[id] = s
		rc.mu.Unlock()
		return n.Register(node.TypeResource, s)
	}
	rc.Cluster = testcluster.New(t, opts)
	t.Cleanup(func() {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, s := range rc.stores {
			s.Close()
		}
	})
	return rc
}

func (rc *rcluster) store(id string) *resource.Store {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.stores[id]
}

func (rc *rcluster) backend(id string) *resource.Backend {
	return resource.NewBackend(rc.store(id), rc.Node(id))
}

// backends returns one backend per live member, followers first, so the
// contract's writes are forwarded and its reads run on followers.
func (rc *rcluster) backends(t *testing.T) []resourcetest.Backend {
	leader := rc.WaitLeader(t, 30*time.Second)
	var out []resourcetest.Backend
	for _, id := range rc.LiveIDs() {
		if id != leader {
			out = append(out, resourcetest.FromBackend(rc.backend(id)))
		}
	}
	return append(out, resourcetest.FromBackend(rc.backend(leader)))
}

const testMaxBytes = 64 << 10

// TestContract runs the resource contract on a three-member cluster.
func TestContract(t *testing.T) {
	rc := newRCluster(t, resource.Config{MaxResourceBytes: testMaxBytes}, testcluster.Options{})
	bs := rc.backends(t)
	resourcetest.RunContract(t, resourcetest.Options{
		Backends:         func(*testing.T) []resourcetest.Backend { return bs },
		MaxResourceBytes: testMaxBytes,
	})
}

// TestFollowerReadsItsOwnWrites: a write answered by a follower (before
// the follower applied it) is seen by the next eventual read and the next
// watch on that follower.
func TestFollowerReadsItsOwnWrites(t *testing.T) {
	rc := newRCluster(t, resource.Config{}, testcluster.Options{})
	leader := rc.WaitLeader(t, 30*time.Second)
	var follower string
	for _, id := range rc.LiveIDs() {
		if id != leader {
			follower = id
			break
		}
	}
	b := rc.backend(follower)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 20 {
		id := albumID(fmt.Sprintf("a%d", i))
		written, err := b.WriteCAS(ctx, &pbresource.Resource{Id: id, Metadata: map[string]string{"i": fmt.Sprint(i)}})
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		got, err := b.Read(ctx, resource.EventualConsistency, id)
		if err != nil {
			t.Fatalf("write %d: eventual read on the follower that answered it: %v", i, err)
		}
		if got.Version != written.Version {
			t.Fatalf("write %d: read version %s, wrote %s", i, got.Version, written.Version)
		}
	}
	w, err := b.WatchList(ctx, albums, tenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	upserts := 0
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == resource.EndOfSnapshot {
			break
		}
		upserts++
	}
	if upserts != 20 {
		t.Fatalf("watch snapshot on the follower has %d resources, want the 20 it acknowledged", upserts)
	}
}
