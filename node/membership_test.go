package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
)

func members(t *testing.T, n *node.Node) map[string]node.Member {
	t.Helper()
	ms, err := n.Members(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatalf("Members on %s: %v", n.ID(), err)
	}
	out := map[string]node.Member{}
	for _, m := range ms {
		out[m.ID] = m
	}
	return out
}

// TestMembership adds members three ways (join, AddVoter on a follower,
// AddNonVoter), transfers leadership, checks Members, and removes members.
func TestMembership(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	leader := c.WaitLeader(t, electTimeout)
	follower := others(c.LiveIDs(), leader)[0]
	ctx := ctxTimeout(t, 2*waitTimeout)

	n4 := c.Add("n4") // joins by itself
	n5 := c.AddIdle("n5")
	if err := c.Node(follower).AddVoter(ctx, "n5", n5.Addr, "http://n5"); err != nil {
		t.Fatalf("AddVoter through follower %s: %v", follower, err)
	}
	n6 := c.AddIdle("n6")
	if err := c.Node(follower).AddNonVoter(ctx, "n6", n6.Addr, ""); err != nil {
		t.Fatalf("AddNonVoter through follower %s: %v", follower, err)
	}
	c.WaitFor(t, waitTimeout, func() bool {
		ms, err := c.Node(leader).Members(ctx)
		return err == nil && len(ms) == 6
	}, "6 members")

	res := c.MustApply(t, "n6", "through-non-voter")
	c.WaitApplied(t, res.Index)
	for _, id := range c.LiveIDs() {
		if c.SM(id).Count("through-non-voter") != 1 {
			t.Fatalf("%s did not apply the command: %v", id, c.SM(id).Commands())
		}
	}

	// Status is asked over the peer RPC with a 1s limit: on a loaded
	// machine a member may miss it once.
	var ms map[string]node.Member
	c.WaitFor(t, waitTimeout, func() bool {
		ms = members(t, c.Node("n6"))
		for _, m := range ms {
			if !m.Reachable || m.Status.AppliedIndex < res.Index {
				return false
			}
		}
		return true
	}, "every member reachable with the command applied")
	for _, id := range c.IDs() {
		m, ok := ms[id]
		switch {
		case !ok:
			t.Errorf("Members lacks %s", id)
		case m.PeerAddr != c.Member(id).Addr:
			t.Errorf("%s: peer address %s, want %s", id, m.PeerAddr, c.Member(id).Addr)
		case m.Voter != (id != "n6"):
			t.Errorf("%s: voter %v", id, m.Voter)
		case m.Leader != (id == leader):
			t.Errorf("%s: leader %v, leader is %s", id, m.Leader, leader)
		case !m.Reachable || m.Status.AppliedIndex < res.Index:
			t.Errorf("%s: reachable %v, applied %d < %d", id, m.Reachable, m.Status.AppliedIndex, res.Index)
		}
	}
	if ms["n5"].ClientAddr != "http://n5" {
		t.Errorf("n5 client address %q, want http://n5", ms["n5"].ClientAddr)
	}
	_ = n4

	// Transfer leadership, asked on a node that is not the target.
	target := others(c.LiveIDs(), leader, "n6")[0]
	if err := c.Node(leader).TransferLeadership(ctx, target); err != nil {
		t.Fatalf("TransferLeadership to %s: %v", target, err)
	}
	if l := c.WaitLeader(t, electTimeout); l != target {
		t.Fatalf("leader is %s after transfer to %s", l, target)
	}
	if err := c.Node(follower).TransferLeadership(ctx, "n6"); !errors.Is(err, node.ErrMember) {
		t.Fatalf("transfer to non-voter n6: %v, want ErrMember", err)
	}
	if err := c.Node(follower).AddVoter(ctx, "n7", n5.Addr, ""); !errors.Is(err, node.ErrMember) {
		t.Fatalf("AddVoter with n5's address: %v, want ErrMember", err)
	}

	// Remove a non-voter and a voter, through a follower.
	leader = c.WaitLeader(t, electTimeout)
	via := others(c.LiveIDs(), leader, "n5", "n6")[0]
	for _, id := range []string{"n6", "n5"} {
		if err := c.Node(via).RemoveServer(ctx, id); err != nil {
			t.Fatalf("RemoveServer(%s) through %s: %v", id, via, err)
		}
	}
	ms = members(t, c.Node(leader))
	if len(ms) != 4 || ms["n5"].ID != "" || ms["n6"].ID != "" {
		t.Fatalf("members after removals: %v", ms)
	}
	// n5 learns it was removed; restarted on its data, it refuses to run
	// (or, if its log never got the removal, marks itself removed).
	c.WaitFor(t, waitTimeout, c.Node("n5").Removed, "n5 to notice its removal")
	if _, err := c.Node("n5").Apply(ctx, node.TypeUser, []byte("from-removed")); !errors.Is(err, node.ErrRemoved) {
		t.Fatalf("Apply on removed n5: %v, want ErrRemoved", err)
	}
	c.Crash("n5")
	c.Crash("n6")
	if err := c.TryRestart("n5"); err == nil {
		c.WaitFor(t, waitTimeout, c.Node("n5").Removed, "restarted n5 to notice its removal")
		c.Crash("n5")
	} else if !errors.Is(err, node.ErrRemoved) {
		t.Fatalf("restart of removed n5: %v, want ErrRemoved", err)
	}
	res = c.MustApply(t, leader, "after-removals")
	c.WaitApplied(t, res.Index)
	c.EnsureSame(t)
}

// TestRemovedWhileAway: a node removed while it was cut off never learns
// it from its log; restarted, it must find out, stop, and not disturb the
// cluster (no term inflation from its elections).
func TestRemovedWhileAway(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 4})
	leader := c.WaitLeader(t, electTimeout)
	victim := others(c.LiveIDs(), leader)[0]
	c.MustApply(t, leader, "before")
	c.Isolate(victim)
	ctx := ctxTimeout(t, waitTimeout)
	if err := c.Node(leader).RemoveServer(ctx, victim); err != nil {
		t.Fatalf("RemoveServer(%s): %v", victim, err)
	}
	c.Crash(victim)
	c.Heal()
	res := c.MustApply(t, leader, "after-removal")
	c.WaitApplied(t, res.Index)
	term := c.Node(leader).Status().Term

	if err := c.TryRestart(victim); err != nil {
		if errors.Is(err, node.ErrRemoved) {
			t.Skipf("%s learned of its removal before it was cut off (%v)", victim, err)
		}
		t.Fatalf("restart %s: %v", victim, err)
	}
	c.WaitFor(t, waitTimeout, c.Node(victim).Removed, victim+" to notice its removal")
	if _, err := c.Node(victim).Apply(ctx, node.TypeUser, []byte("from-removed")); !errors.Is(err, node.ErrRemoved) {
		t.Fatalf("Apply on removed %s: %v, want ErrRemoved", victim, err)
	}
	if s := c.Node(victim).Status(); s.State != "Removed" {
		t.Errorf("%s reports state %s, want Removed", victim, s.State)
	}
	res = c.MustApply(t, leader, "after-restart")
	for _, id := range others(c.LiveIDs(), victim) {
		if err := c.Node(id).WaitApplied(ctx, res.Index); err != nil {
			t.Fatalf("%s did not apply index %d: %v", id, res.Index, err)
		}
	}
	if got := c.Node(leader).Status().Term; got != term || !c.Node(leader).IsLeader() {
		t.Fatalf("the removed node disturbed the cluster: term %d -> %d, %s leads: %v", term, got, leader, c.Node(leader).IsLeader())
	}
	if c.SM(victim).Count("after-removal") != 0 {
		t.Fatalf("removed %s applied a command committed after its removal", victim)
	}
	c.Crash(victim)
	c.EnsureSame(t)
}

func TestMembershipRefusals(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	leader := c.WaitLeader(t, electTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	n := c.Node(others(c.LiveIDs(), leader)[0])
	for name, err := range map[string]error{
		"remove unknown":   n.RemoveServer(ctx, "nope"),
		"remove no id":     n.RemoveServer(ctx, ""),
		"add bad address":  n.AddVoter(ctx, "n9", "not-an-address", ""),
		"add taken addr":   n.AddVoter(ctx, "n9", c.Member(leader).Addr, ""),
		"readd other addr": n.AddVoter(ctx, leader, "127.0.0.1:1", ""),
		"promote unknown":  n.PromoteToVoter(ctx, "nope"),
	} {
		if !errors.Is(err, node.ErrMember) {
			t.Errorf("%s: %v, want ErrMember", name, err)
		}
	}
}
