package resourceapi_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc/codes"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/server/resourceapi"
)

// gatedStore is a member's resource store whose applies wait while the
// gate is held: a follower made to lag on demand, deterministically.
type gatedStore struct {
	*resource.Store
	mu   sync.Mutex
	held chan struct{} // non-nil while held; closed on release
}

func (g *gatedStore) wait() {
	g.mu.Lock()
	ch := g.held
	g.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (g *gatedStore) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = make(chan struct{})
	}
}

func (g *gatedStore) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		close(g.held)
		g.held = nil
	}
}

func (g *gatedStore) Apply(index uint64, cmd []byte) []byte {
	g.wait()
	return g.Store.Apply(index, cmd)
}

func (g *gatedStore) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	g.wait()
	return g.Store.ApplyBatch(index, cmds)
}

// apiBackend is *resource.Backend as resourceapi.Backend (the agent's
// storeBackend, without auth).
type apiBackend struct{ *resource.Backend }

func (b apiBackend) WatchList(ctx context.Context, t resource.UnversionedType, ten *pbresource.Tenancy, prefix string, from uint64) (resourceapi.Watcher, error) {
	return b.Backend.WatchList(ctx, t, ten, prefix, from)
}

// TestWriteOnLaggingFollower: a Write naming a version, taken by a
// follower that has not applied the write that made that version, gives
// the leader's answer: the current version succeeds and a stale one is
// Aborted. The follower is held deterministically (its applies wait), and
// its own eventual read shows it still has the older version. Before the
// write was decided in apply, the API read the stored version on the
// receiving member first: with an eventual read this refused the current
// version (Aborted), with a strong one it waited for the held apply.
func TestWriteOnLaggingFollower(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*gatedStore{}
	c := testcluster.New(t, testcluster.Options{Register: func(id string, n *node.Node) error {
		s, err := resource.Open(resource.Config{Logger: testcluster.NewLogger(t)})
		if err != nil {
			return err
		}
		g := &gatedStore{Store: s}
		mu.Lock()
		stores[id] = g
		mu.Unlock()
		return n.Register(node.TypeResource, g)
	}})
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, g := range stores {
			g.release()
			g.Close()
		}
	})
	leader := c.WaitLeader(t, 30*time.Second)
	var f string
	for _, id := range c.LiveIDs() {
		if id != leader {
			f = id
			break
		}
	}
	mu.Lock()
	fs, ls := stores[f], stores[leader]
	mu.Unlock()
	lb := resource.NewBackend(ls.Store, c.Node(leader))
	fb := resource.NewBackend(fs.Store, c.Node(f))
	api, err := resourceapi.New(resourceapi.Config{Backend: apiBackend{fb}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	id := artist("lagging")
	v1, err := api.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: id, Data: strData("a")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fb.Read(ctx, resource.StrongConsistency, id); err != nil { // the follower has applied v1
		t.Fatal(err)
	}
	fs.hold()
	v2, err := lb.Write(ctx, &pbresource.Resource{Id: id, Version: v1.Resource.Version, Data: strData("b")})
	if err != nil {
		t.Fatalf("write on the leader: %v", err)
	}
	if got, err := fb.Read(ctx, resource.EventualConsistency, id); err != nil || got.Version != v1.Resource.Version {
		t.Fatalf("the held follower reads %v, %v; want version %s (it must lag for this test)", got, err, v1.Resource.Version)
	}

	// Bounded, so that a write that waits for the held apply fails
	// instead of hanging.
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	stale := &pbresource.Resource{Id: id, Version: v1.Resource.Version, Data: strData("stale")}
	_, err = api.Write(wctx, &pbresource.WriteRequest{Resource: stale})
	wantCode(t, "write with the version the lagging follower holds", err, codes.Aborted)
	cur := &pbresource.Resource{Id: id, Version: v2.Version, Data: strData("c")}
	v3, err := api.Write(wctx, &pbresource.WriteRequest{Resource: cur})
	if err != nil {
		t.Fatalf("write with the current version on the lagging follower: %v", err)
	}
	if v3.Resource.Id.Uid != v1.Resource.Id.Uid || v3.Resource.Version == v2.Version {
		t.Fatalf("write on the lagging follower answered %v", v3.Resource)
	}
	if fs.AppliedIndex() >= ls.AppliedIndex() {
		t.Fatalf("the follower applied index %d, the leader %d: it did not lag", fs.AppliedIndex(), ls.AppliedIndex())
	}

	fs.release()
	got, err := fb.Read(ctx, resource.EventualConsistency, id) // waits for the follower's own acknowledged write
	if err != nil || got.Version != v3.Resource.Version || got.Generation != v3.Resource.Generation {
		t.Fatalf("after release the follower reads %v, %v; want %v", got, err, v3.Resource)
	}
}
