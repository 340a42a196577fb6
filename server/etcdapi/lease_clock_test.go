package etcdapi

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// jumpClock models a member's two clocks: the wall clock, which an
// operator or NTP may step, and the monotonic clock, which only advances.
// Advance moves both; JumpWall moves the wall clock alone.
type jumpClock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Time // a timeline of its own: only differences matter
}

func newJumpClock(origin time.Duration) *jumpClock {
	return &jumpClock{wall: time.Unix(1_800_000_000, 0), mono: time.Unix(0, 0).Add(origin)}
}

func (c *jumpClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.wall }
func (c *jumpClock) Mono() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.mono }

func (c *jumpClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.wall, c.mono = c.wall.Add(d), c.mono.Add(d)
	c.mu.Unlock()
}

func (c *jumpClock) JumpWall(d time.Duration) {
	c.mu.Lock()
	c.wall = c.wall.Add(d)
	c.mu.Unlock()
}

// fakeLog applies every kv command to each member's store in one order,
// as the Raft log would.
type fakeLog struct {
	mu     sync.Mutex
	index  uint64
	stores []*kv.Store
}

// clockNode is the little of Node the lessor loop uses; the embedded nil
// Node makes any other call panic.
type clockNode struct {
	Node
	log *fakeLog
}

func (n *clockNode) ID() string                        { return "m0" }
func (n *clockNode) ReadBarrier(context.Context) error { return nil }

func (n *clockNode) Apply(_ context.Context, t node.Type, payload []byte) (node.Result, error) {
	n.log.mu.Lock()
	defer n.log.mu.Unlock()
	n.log.index++
	var data []byte
	for _, s := range n.log.stores {
		data = s.Apply(n.log.index, payload)
	}
	return node.Result{Index: n.log.index, Data: data}, nil
}

// clockMember is one member's store, lessor, API and clock.
type clockMember struct {
	api   *API
	store *kv.Store
	clk   *jumpClock
}

func newClockMembers(t *testing.T, n int, checkpoint time.Duration) []*clockMember {
	t.Helper()
	log := &fakeLog{}
	var ms []*clockMember
	for i := range n {
		l := kv.NewLessor(kv.LessorConfig{CheckpointInterval: checkpoint})
		st := kv.New(kv.Options{Lessor: l})
		log.stores = append(log.stores, st)
		// Each member's monotonic clock has its own origin, as across
		// processes.
		clk := newJumpClock(time.Duration(i+1) * 1000 * time.Hour)
		api := New(Config{Node: &clockNode{log: log}, Store: st, Lessor: l, LeaseClock: clk.Mono, QuotaBytes: -1})
		ms = append(ms, &clockMember{api: api, store: st, clk: clk})
	}
	return ms
}

func (m *clockMember) grant(t *testing.T, id, ttl int64) {
	t.Helper()
	res, err := m.api.node.Apply(context.Background(), node.TypeKV, kv.EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: id, TTL: ttl}))
	if err == nil {
		_, err = kv.ResultAs[*pb.LeaseGrantResponse](res.Data)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// leases runs one pass of the leader's expiry loop and returns the leases
// left.
func (m *clockMember) leases() []int64 {
	m.api.expireLeases(context.Background())
	var ids []int64
	for _, l := range m.store.Leases() {
		ids = append(ids, l.ID)
	}
	return ids
}

// TestLeaseExpiryIgnoresWallClockJumps: a 5s lease on a leader whose wall
// clock jumps an hour forward or back neither expires early nor lives on:
// it expires after 5s of monotonic time.
func TestLeaseExpiryIgnoresWallClockJumps(t *testing.T) {
	for _, jump := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(jump.String(), func(t *testing.T) {
			m := newClockMembers(t, 1, 0)[0]
			if !m.api.promote(context.Background()) {
				t.Fatal("promote failed")
			}
			m.grant(t, 1, 5)
			if got := m.leases(); !slices.Equal(got, []int64{1}) { // gives the lease its deadline
				t.Fatalf("leases after grant: %v", got)
			}
			m.clk.JumpWall(jump)
			m.clk.Advance(4900 * time.Millisecond)
			if got := m.leases(); !slices.Equal(got, []int64{1}) {
				t.Fatalf("lease expired 4.9s into its 5s TTL after a wall jump of %s: %v", jump, got)
			}
			m.clk.Advance(100 * time.Millisecond)
			if got := m.leases(); len(got) != 0 {
				t.Fatalf("lease outlived its 5s TTL after a wall jump of %s: %v", jump, got)
			}
		})
	}
}

// TestLeaseLeaderChangeGivesFullTTL: when leadership moves, the new leader
// gives every lease its remaining TTL afresh (its full TTL without a
// checkpoint, as etcd), on its own monotonic clock, even with its wall
// clock an hour off: no lease expires before its time on the old leader.
func TestLeaseLeaderChangeGivesFullTTL(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkpoint time.Duration
		want       time.Duration // the lease's life on the new leader
	}{
		{"no checkpoint", 0, 10 * time.Second},
		{"checkpointed", 2 * time.Second, 5 * time.Second}, // the last checkpoint, at 5s, left 5s
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := newClockMembers(t, 2, tc.checkpoint)
			old, nu := ms[0], ms[1]
			ctx := context.Background()
			old.api.promote(ctx)
			old.grant(t, 7, 10)
			old.leases()
			old.clk.Advance(2 * time.Second)
			old.leases() // checkpoints 8s left, when enabled
			old.clk.Advance(3 * time.Second)
			old.leases() // checkpoints 5s left, when enabled
			old.api.lessor.Demote()
			nu.clk.JumpWall(time.Hour)
			nu.api.promote(ctx)
			nu.clk.Advance(tc.want - 100*time.Millisecond)
			if got := nu.leases(); !slices.Equal(got, []int64{7}) {
				t.Fatalf("lease expired %s after the leader change, before its %s: %v", tc.want-100*time.Millisecond, tc.want, got)
			}
			nu.clk.JumpWall(-2 * time.Hour)
			nu.clk.Advance(100 * time.Millisecond)
			if got := nu.leases(); len(got) != 0 {
				t.Fatalf("lease outlived its %s on the new leader: %v", tc.want, got)
			}
		})
	}
}
