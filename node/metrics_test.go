package node_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/metricstest"
	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
	"github.com/prometheus/client_golang/prometheus"
)

// gather reads a node's series as /metrics would show them.
func gather(t *testing.T, n *node.Node) metricstest.Families {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(n); err != nil {
		t.Fatal(err)
	}
	return metricstest.Gather(t, reg)
}

// TestNodeMetrics: every series of the node moves when its event happens:
// leader changes, proposals committed and failed, applies (slow ones
// too), log fsyncs, snapshots saved by the leader and installed by a
// follower that fell behind.
func TestNodeMetrics(t *testing.T) {
	const trailing, writes = 16, 100
	c := testcluster.New(t, testcluster.Options{Nodes: 3, LeaderTimeout: time.Second, ApplyTimeout: 2 * time.Second,
		SnapshotThreshold: 32, SnapshotInterval: 100 * time.Millisecond, TrailingLogs: trailing,
		// Every apply counts as slow.
		Configure: func(cfg *node.Config) { cfg.SlowApply = time.Nanosecond }})
	leader := c.WaitLeader(t, electTimeout)
	for _, id := range c.LiveIDs() {
		c.WaitFor(t, waitTimeout, func() bool {
			return gather(t, c.Node(id)).Must(t, "concord_node_leader_changes_total") >= 1
		}, id+" to count the first leader")
	}
	lagger := others(c.LiveIDs(), leader)[0]
	c.WaitApplied(t, c.MustApply(t, leader, "first").Index)
	c.Isolate(lagger)
	before := gather(t, c.Node(leader))
	for i := range writes {
		c.MustApply(t, leader, fmt.Sprintf("w%d", i))
	}
	c.WaitFor(t, waitTimeout, func() bool {
		return gather(t, c.Node(leader)).Must(t, "concord_node_snapshot_duration_seconds", "op", "save") >= 1
	}, "the leader to save a snapshot")
	m := gather(t, c.Node(leader))
	moved := func(name string, labels ...string) float64 {
		was, _ := before.Value(name, labels...)
		return m.Must(t, name, labels...) - was
	}
	if d := moved("concord_node_proposals_committed_total"); d < writes {
		t.Errorf("proposals committed moved by %v, want at least %d", d, writes)
	}
	if d := moved("concord_node_apply_duration_seconds"); d < writes {
		t.Errorf("applies timed: %v more, want at least %d", d, writes)
	}
	if d := moved("concord_node_slow_applies_total"); d < writes {
		t.Errorf("slow applies (threshold 1ns): %v more, want at least %d", d, writes)
	}
	if d := moved("concord_wal_fsync_duration_seconds"); d < 1 {
		t.Errorf("log fsyncs timed: %v more, want some", d)
	}
	if v := m.Must(t, "concord_node_snapshot_size_bytes", "op", "save"); v <= 0 {
		t.Errorf("saved snapshot size %v", v)
	}
	if v := m.Must(t, "concord_node_proposals_pending"); v != 0 {
		t.Errorf("proposals pending with nothing in flight: %v", v)
	}

	// The lagging follower installs a snapshot.
	c.Heal()
	c.WaitFor(t, waitTimeout, func() bool {
		return gather(t, c.Node(lagger)).Must(t, "concord_node_snapshot_duration_seconds", "op", "restore") >= 1
	}, lagger+" to install a snapshot")
	if v := gather(t, c.Node(lagger)).Must(t, "concord_node_snapshot_size_bytes", "op", "restore"); v <= 0 {
		t.Errorf("installed snapshot size %v", v)
	}

	// A leader cut off from the others cannot commit: its proposal fails.
	leader = c.WaitLeader(t, electTimeout)
	failedBefore := gather(t, c.Node(leader)).Must(t, "concord_node_proposals_failed_total")
	changesBefore := gather(t, c.Node(leader)).Must(t, "concord_node_leader_changes_total")
	c.Isolate(leader)
	if _, err := c.Apply(leader, "lost"); err == nil {
		t.Fatal("an isolated leader committed")
	} else if !errors.Is(err, node.ErrUnknownOutcome) && !errors.Is(err, node.ErrNoLeader) && !errors.Is(err, node.ErrNotLeader) {
		t.Fatalf("apply on an isolated leader: %v", err)
	}
	if d := gather(t, c.Node(leader)).Must(t, "concord_node_proposals_failed_total") - failedBefore; d < 1 {
		t.Errorf("proposals failed moved by %v, want at least 1", d)
	}
	// Back with the others, it learns of the leader they elected.
	others := others(c.LiveIDs(), leader)
	c.WaitLeaderAmong(t, electTimeout, others...)
	c.Heal()
	c.WaitFor(t, waitTimeout, func() bool {
		return gather(t, c.Node(leader)).Must(t, "concord_node_leader_changes_total") > changesBefore
	}, "the old leader to count the new leader")
}
