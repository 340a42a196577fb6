package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
	"go.etcd.io/etcd/api/v3/authpb"
	"golang.org/x/crypto/bcrypt"
)

// fakeNode applies commands straight to the store, one log index each.
type fakeNode struct {
	mu    sync.Mutex
	s     *Store
	index uint64
	log   [][]byte
}

func (n *fakeNode) Apply(_ context.Context, t node.Type, payload []byte) (node.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t != node.TypeAuth {
		panic("wrong type")
	}
	n.index++
	n.log = append(n.log, payload)
	return node.Result{Index: n.index, Data: n.s.Apply(n.index, payload)}, nil
}

func (n *fakeNode) WaitApplied(ctx context.Context, index uint64) error {
	for {
		n.mu.Lock()
		done := n.index >= index
		n.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (n *fakeNode) ReadBarrier(context.Context) error { return nil }

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestStore(t testing.TB, cfg Config) (*Store, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	if cfg.Now == nil {
		cfg.Now = clock.now
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.MinCost
	}
	n := &fakeNode{}
	s, err := New(cfg, n)
	if err != nil {
		t.Fatal(err)
	}
	n.s = s
	return s, clock
}

var root = Identity{Name: RootUser}

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// enableWithRoot adds root (password "rootpw") with the root role and
// enables auth.
func enableWithRoot(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	must(t, s.UserAdd(ctx, Identity{}, userAdd(RootUser, "rootpw")))
	must(t, s.UserGrantRole(ctx, Identity{}, RootUser, RootRole))
	must(t, s.AuthEnable(ctx, Identity{}))
}

func perm(typ authpb.Permission_Type, key, end string) *authpb.Permission {
	p := &authpb.Permission{PermType: typ, Key: []byte(key)}
	if end != "" {
		p.RangeEnd = []byte(end)
	}
	return p
}
