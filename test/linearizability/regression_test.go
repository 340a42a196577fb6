package linearizability

import (
	"context"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
)

// TestRegressionLossFollowerKeepsReplicatingAndStops is the scenario that
// hung the suite: under message loss a follower answers AppendEntries with
// Success=false, which deadlocked hashicorp/raft's pipelined replication to
// it. The leader then never sent it another entry (its heartbeats kept it
// from calling an election) and the leader's Raft.Shutdown never returned.
// node now replicates without pipelining. After each round of loss every
// follower must catch up, and every member must stop when crashed (crash
// fails the test with a goroutine dump after a minute).
func TestRegressionLossFollowerKeepsReplicatingAndStops(t *testing.T) {
	c := StartInProcess(t, InProcessOptions{Seed: 7})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for round := range 4 {
		l, err := c.leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.nw.SetDrop(testcluster.Any, testcluster.Any, 0.2)
		if err := fill(ctx, l.cfg.ClientAddr, 300); err != nil {
			t.Logf("round %d: writes under loss: %v", round, err)
		}
		c.nw.Heal()
		if err := fill(ctx, l.cfg.ClientAddr, 50); err != nil {
			t.Logf("round %d: writes after loss: %v", round, err)
		}
		if err := c.Heal(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	c.crashAll()
}
