package resource

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/concord-db/concord/node"
)

// localNode applies commands straight to one store, as a single-member
// node would, so store tests need no cluster.
type localNode struct {
	mu    sync.Mutex
	s     *Store
	index uint64
	last  []byte // the last payload proposed
}

func (n *localNode) Apply(_ context.Context, t node.Type, payload []byte) (node.Result, error) {
	if t != node.TypeResource {
		return node.Result{}, errors.New("wrong type")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.index++
	n.last = payload
	return node.Result{Index: n.index, Data: n.s.Apply(n.index, payload)}, nil
}

func (n *localNode) ReadBarrier(context.Context) error { return nil }
func (n *localNode) ID() string                        { return "local" }

func newLocal(t testing.TB, cfg Config) (*Store, *Backend) {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, NewBackend(s, &localNode{s: s})
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var testTenancy = &pbresource.Tenancy{Partition: "default", Namespace: "default"}

func testID(kind, name string) *pbresource.ID {
	return &pbresource.ID{Type: &pbresource.Type{Group: "demo", GroupVersion: "v1", Kind: kind}, Tenancy: testTenancy, Name: name}
}

func testData(s string) *anypb.Any {
	a, _ := anypb.New(wrapperspb.String(s))
	return a
}

var artists = UnversionedType{Group: "demo", Kind: "Artist"}

func mustWrite(t testing.TB, ctx context.Context, b *Backend, r *pbresource.Resource) *pbresource.Resource {
	t.Helper()
	out, err := b.WriteCAS(ctx, r)
	if err != nil {
		t.Fatalf("write %s: %v", r.GetId().GetName(), err)
	}
	return out
}

func nextEvent(t *testing.T, w *Watch) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

// nextErr reads events until Next fails and returns the error and the
// events read before it.
func nextErr(t *testing.T, w *Watch) ([]Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var evs []Event
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}
