package node_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
)

// Shared deadlines. They are generous: they bound how long a broken test
// hangs, not how fast a healthy cluster must be.
const (
	electTimeout = 20 * time.Second
	waitTimeout  = 30 * time.Second
)

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// others returns ids without the excluded ones.
func others(ids []string, exclude ...string) []string {
	var out []string
next:
	for _, id := range ids {
		for _, x := range exclude {
			if id == x {
				continue next
			}
		}
		out = append(out, id)
	}
	return out
}

func TestElectionAndReplication(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	leader := c.WaitLeader(t, electTimeout)

	leaders := 0
	for _, id := range c.LiveIDs() {
		if c.Node(id).IsLeader() {
			leaders++
		}
		if lid, _, err := c.Node(id).Leader(); err != nil || lid != leader {
			t.Errorf("%s sees leader %q (%v), want %s", id, lid, err, leader)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d nodes consider themselves leader, want 1", leaders)
	}

	var last node.Result
	for i := range 20 {
		last = c.MustApply(t, leader, fmt.Sprintf("cmd-%d", i))
	}
	c.WaitApplied(t, last.Index)
	for _, id := range c.LiveIDs() {
		if got := c.SM(id).Len(); got != 20 {
			t.Errorf("%s applied %d commands, want 20", id, got)
		}
	}
	c.EnsureSame(t)
}

// TestApplyThroughFollower: a follower forwards the command to the leader,
// returns the leader's result, and every node applies it.
func TestApplyThroughFollower(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	leader := c.WaitLeader(t, electTimeout)
	for _, f := range others(c.LiveIDs(), leader) {
		cmd := "via-" + f
		res := c.MustApply(t, f, cmd)
		if res.Index == 0 || len(res.Data) == 0 {
			t.Fatalf("apply through %s: result %+v has no index or data", f, res)
		}
		c.WaitApplied(t, res.Index)
		for _, id := range c.LiveIDs() {
			if n := c.SM(id).Count(cmd); n != 1 {
				t.Errorf("%s applied %q %d times, want 1", id, cmd, n)
			}
		}
	}
	c.EnsureSame(t)
}

// TestRestartRecovery crashes every node and restarts them on their data
// dirs: nothing acknowledged is lost and all agree.
func TestRestartRecovery(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	leader := c.WaitLeader(t, electTimeout)
	var acked []string
	for i := range 30 {
		cmd := fmt.Sprintf("before-%d", i)
		c.MustApply(t, c.LiveIDs()[i%3], cmd)
		acked = append(acked, cmd)
	}
	_ = leader
	for _, id := range c.LiveIDs() {
		c.Crash(id)
	}
	for _, id := range c.IDs() {
		c.Restart(id)
	}
	leader = c.WaitLeader(t, electTimeout)
	// A write in the new term commits (and so applies) everything before it.
	res := c.MustApply(t, leader, "after")
	c.WaitApplied(t, res.Index)
	c.EnsureSame(t)
	got := c.SM(leader).Commands()
	want := append(acked, "after")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restart the log is\n%v\nwant\n%v", got, want)
	}
}

// TestLeaderLossReelection crashes the leader: the others elect a new one
// and writes continue; the old leader catches up when it returns.
func TestLeaderLossReelection(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	old := c.WaitLeader(t, electTimeout)
	c.MustApply(t, old, "first")
	c.Crash(old)
	leader := c.WaitLeader(t, electTimeout)
	if leader == old {
		t.Fatalf("crashed node %s still leads", old)
	}
	for _, id := range c.LiveIDs() {
		c.MustApply(t, id, "after-"+id)
	}
	c.Restart(old)
	c.EnsureSame(t)
	if n := c.SM(old).Len(); n != 3 {
		t.Fatalf("restarted %s has %d commands, want 3", old, n)
	}
}

// TestMinorityCannotCommit: writes on the minority side of a partition fail
// with a clear error while the majority commits; after healing everyone
// converges and each failed write was applied at most once.
func TestMinorityCannotCommit(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3, LeaderTimeout: time.Second, ApplyTimeout: 2 * time.Second})
	old := c.WaitLeader(t, electTimeout)
	c.MustApply(t, old, "before")
	c.Isolate(old)

	// The isolated old leader cannot commit.
	_, errOld := c.Apply(old, "lost-on-old-leader")
	if !errors.Is(errOld, node.ErrUnknownOutcome) && !errors.Is(errOld, node.ErrNoLeader) && !errors.Is(errOld, node.ErrNotLeader) {
		t.Fatalf("apply on isolated old leader: got %v, want ErrUnknownOutcome, ErrNoLeader or ErrNotLeader", errOld)
	}
	t.Logf("apply on isolated old leader: %v", errOld)

	majority := others(c.LiveIDs(), old)
	leader := c.WaitLeaderAmong(t, electTimeout, majority...)
	c.MustApply(t, leader, "on-majority")

	// A follower alone on its side cannot commit either, while the others do.
	c.Heal()
	leader = c.WaitLeader(t, electTimeout)
	follower := others(c.LiveIDs(), leader)[0]
	c.Isolate(follower)
	_, errMin := c.Apply(follower, "lost-on-minority")
	if !errors.Is(errMin, node.ErrUnknownOutcome) && !errors.Is(errMin, node.ErrNoLeader) && !errors.Is(errMin, node.ErrNotLeader) {
		t.Fatalf("apply on isolated follower: got %v, want ErrUnknownOutcome, ErrNoLeader or ErrNotLeader", errMin)
	}
	t.Logf("apply on isolated follower: %v", errMin)
	leader = c.WaitLeaderAmong(t, electTimeout, others(c.LiveIDs(), follower)...)
	c.MustApply(t, leader, "on-majority-2")

	c.Heal()
	leader = c.WaitLeader(t, electTimeout)
	res := c.MustApply(t, leader, "after-heal")
	c.WaitApplied(t, res.Index)
	c.EnsureSame(t)
	sm := c.SM(leader)
	for _, cmd := range []string{"before", "on-majority", "on-majority-2", "after-heal"} {
		if n := sm.Count(cmd); n != 1 {
			t.Errorf("%q applied %d times, want 1", cmd, n)
		}
	}
	for _, cmd := range []string{"lost-on-old-leader", "lost-on-minority"} {
		if n := sm.Count(cmd); n > 1 {
			t.Errorf("failed command %q applied %d times, want at most once", cmd, n)
		}
	}
	t.Logf("final log: %v", sm.Commands())
}
