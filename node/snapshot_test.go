package node_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
)

// TestSnapshotInstall: a follower cut off while the leader compacts its log
// past the follower's position catches up through a snapshot install.
func TestSnapshotInstall(t *testing.T) {
	const trailing, writes = 16, 200
	c := testcluster.New(t, testcluster.Options{Nodes: 3,
		SnapshotThreshold: 32, SnapshotInterval: 100 * time.Millisecond, TrailingLogs: trailing})
	leader := c.WaitLeader(t, electTimeout)
	lagger := others(c.LiveIDs(), leader)[0]
	res := c.MustApply(t, leader, "first")
	c.WaitApplied(t, res.Index)
	c.Isolate(lagger)
	behind := c.Node(lagger).Status().LastLogIndex
	restores := c.SM(lagger).Restores()

	for i := range writes {
		c.MustApply(t, leader, fmt.Sprintf("while-away-%d", i))
	}
	// The leader's log no longer holds the entries after the lagger's last.
	c.WaitFor(t, waitTimeout, func() bool {
		_, idx := c.SM(leader).Snapshots()
		return idx > behind+trailing+1
	}, "the leader to snapshot past the lagging follower")

	c.Heal()
	c.WaitFor(t, waitTimeout, func() bool { return c.SM(lagger).Restores() > restores }, lagger+" to install a snapshot")
	res = c.MustApply(t, leader, "last")
	c.WaitApplied(t, res.Index)
	c.EnsureSame(t)
	if n := c.SM(lagger).Len(); n != writes+2 {
		t.Fatalf("%s has %d commands, want %d", lagger, n, writes+2)
	}
}

// TestRollback: the leader rolls the cluster back to a snapshot taken
// earlier; every node converges to it. A damaged stream is refused and
// changes nothing.
func TestRollback(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	leader := c.WaitLeader(t, electTimeout)
	for _, cmd := range []string{"a", "b", "c"} {
		c.MustApply(t, leader, cmd)
	}
	var snap bytes.Buffer
	h, err := c.Node(leader).WriteSnapshot(ctxTimeout(t, waitTimeout), &snap)
	if err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	t.Logf("snapshot %+v, %d bytes", h, snap.Len())
	if _, _, err := node.ScanSnapshot(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatalf("the snapshot written does not scan: %v", err)
	}
	for _, cmd := range []string{"d", "e"} {
		c.MustApply(t, leader, cmd)
	}

	follower := others(c.LiveIDs(), leader)[0]
	if err := c.Node(follower).Rollback(ctxTimeout(t, waitTimeout), bytes.NewReader(snap.Bytes())); !errors.Is(err, node.ErrNotLeader) {
		t.Fatalf("Rollback on follower: %v, want ErrNotLeader", err)
	}
	if err := c.Node(leader).Rollback(ctxTimeout(t, waitTimeout), bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	c.EnsureSame(t)
	want := "[a b c]"
	for _, id := range c.LiveIDs() {
		if got := fmt.Sprint(c.SM(id).Commands()); got != want {
			t.Fatalf("%s after rollback: %s, want %s", id, got, want)
		}
	}
	res := c.MustApply(t, follower, "f")
	c.WaitApplied(t, res.Index)
	want = "[a b c f]"

	good := snap.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x01
	for name, b := range map[string][]byte{
		"flipped byte":   flipped,
		"truncated":      good[:len(good)-5],
		"not a snapshot": []byte("hello, world"),
	} {
		err := c.Node(leader).Rollback(ctxTimeout(t, waitTimeout), bytes.NewReader(b))
		if !errors.Is(err, node.ErrBadSnapshot) {
			t.Errorf("Rollback with %s stream: %v, want ErrBadSnapshot", name, err)
		}
	}
	res = c.MustApply(t, leader, "g")
	c.WaitApplied(t, res.Index)
	c.EnsureSame(t)
	want = "[a b c f g]"
	for _, id := range c.LiveIDs() {
		if got := fmt.Sprint(c.SM(id).Commands()); got != want {
			t.Fatalf("%s after refused rollbacks: %s, want %s", id, got, want)
		}
	}
	// A node restarted after the rollback recovers the rolled-back state.
	c.Crash(follower)
	c.Restart(follower)
	res = c.MustApply(t, leader, "h")
	c.WaitApplied(t, res.Index)
	c.EnsureSame(t)
	if got := fmt.Sprint(c.SM(follower).Commands()); got != "[a b c f g h]" {
		t.Fatalf("%s after restart: %s", follower, got)
	}
	_ = testcluster.Any
}
