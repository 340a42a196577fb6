package node_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
)

// TestReadBarrierWaitsForApply: after a write is acknowledged through one
// node, a ReadBarrier on another returns only once that node applied it.
func TestReadBarrierWaitsForApply(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	leader := c.WaitLeader(t, electTimeout)
	fs := others(c.LiveIDs(), leader)
	a, b := fs[0], fs[1]

	// b's state machine stalls: b cannot apply the write, so its barrier
	// must not return.
	c.SM(b).Block()
	c.MustApply(t, a, "x")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := c.Node(b).ReadBarrier(ctx)
	cancel()
	if err == nil {
		t.Fatalf("ReadBarrier on %s returned while %s could not apply the acknowledged write (applied: %v)", b, b, c.SM(b).Commands())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadBarrier on blocked %s: %v, want the context's deadline", b, err)
	}
	c.SM(b).Unblock()
	if err := c.Node(b).ReadBarrier(ctxTimeout(t, waitTimeout)); err != nil {
		t.Fatalf("ReadBarrier on %s: %v", b, err)
	}
	if c.SM(b).Count("x") != 1 {
		t.Fatalf("after ReadBarrier %s has %v, want x", b, c.SM(b).Commands())
	}

	// Without stalls: every read after an acknowledged write sees it.
	for i := range 30 {
		cmd := fmt.Sprintf("k%d", i)
		writer, reader := c.LiveIDs()[i%3], c.LiveIDs()[(i+1)%3]
		c.MustApply(t, writer, cmd)
		if err := c.Node(reader).ReadBarrier(ctxTimeout(t, waitTimeout)); err != nil {
			t.Fatalf("ReadBarrier on %s: %v", reader, err)
		}
		if c.SM(reader).Count(cmd) != 1 {
			t.Fatalf("write %q acknowledged by %s is not visible on %s after its ReadBarrier", cmd, writer, reader)
		}
	}
}

// TestReadBarrierFailsOnIsolatedLeader: a leader cut off from the others
// cannot confirm its leadership, so its barrier fails instead of allowing
// a stale read.
func TestReadBarrierFailsOnIsolatedLeader(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3, LeaderTimeout: time.Second, ApplyTimeout: 2 * time.Second})
	old := c.WaitLeader(t, electTimeout)
	c.MustApply(t, old, "before")
	c.Isolate(old)
	if err := c.Node(old).ReadBarrier(ctxTimeout(t, waitTimeout)); err == nil {
		t.Fatalf("ReadBarrier on isolated old leader %s succeeded", old)
	} else {
		t.Logf("ReadBarrier on isolated old leader: %v", err)
	}

	// The majority moves on; the old leader still refuses to serve.
	leader := c.WaitLeaderAmong(t, electTimeout, others(c.LiveIDs(), old)...)
	c.MustApply(t, leader, "after")
	if err := c.Node(old).ReadBarrier(ctxTimeout(t, waitTimeout)); err == nil {
		t.Fatalf("ReadBarrier on isolated old leader %s succeeded with state %v", old, c.SM(old).Commands())
	}
	c.Heal()
	// Right after the heal the peer connections may still be backing off:
	// a barrier may fail until they are back.
	var lastErr error
	c.WaitFor(t, waitTimeout, func() bool {
		lastErr = c.Node(old).ReadBarrier(ctxTimeout(t, 5*time.Second))
		return lastErr == nil
	}, "a ReadBarrier on the old leader to succeed after heal")
	if c.SM(old).Count("after") != 1 {
		t.Fatalf("after heal and ReadBarrier, %s has %v (last error %v)", old, c.SM(old).Commands(), lastErr)
	}
}

// TestReadBarrierAfterLeaderChange: right after leadership moves (to a node
// that led before, so it has no metadata to record), a ReadBarrier returns
// without waiting for another write. raft's no-op and barrier entries never
// reach the FSM; the applied index must still catch up with the commit index.
func TestReadBarrierAfterLeaderChange(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	first := c.WaitLeader(t, electTimeout)
	res := c.MustApply(t, first, "x")
	c.WaitApplied(t, res.Index)
	second := others(c.LiveIDs(), first)[0]
	for _, to := range []string{second, first} {
		if err := c.Node(to).TransferLeadership(ctxTimeout(t, waitTimeout), to); err != nil {
			t.Fatalf("TransferLeadership to %s: %v", to, err)
		}
		if l := c.WaitLeader(t, electTimeout); l != to {
			t.Fatalf("leader is %s after transfer to %s", l, to)
		}
		for _, id := range c.LiveIDs() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := c.Node(id).ReadBarrier(ctx)
			cancel()
			if err != nil {
				s := c.Node(id).Status()
				t.Fatalf("ReadBarrier on %s after transfer to %s: %v (applied %d, commit %d)", id, to, err, s.AppliedIndex, s.CommitIndex)
			}
		}
	}
}
