package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
)

// TestShutdownTransfersLeadership: a leader shut down gracefully hands over
// leadership (the others do not wait out an election timeout) and no
// acknowledged write is lost.
func TestShutdownTransfersLeadership(t *testing.T) {
	// Long timeouts: without a transfer, the followers would wait at least
	// the heartbeat timeout (3s, randomized up to 6s) before an election.
	const heartbeat = 3 * time.Second
	c := testcluster.New(t, testcluster.Options{Nodes: 3, HeartbeatTimeout: heartbeat, ElectionTimeout: heartbeat})
	old := c.WaitLeader(t, electTimeout)
	var acked []string
	for i := range 20 {
		cmd := fmt.Sprintf("c%d", i)
		c.MustApply(t, c.LiveIDs()[i%3], cmd)
		acked = append(acked, cmd)
	}
	c.Stop(old)
	leader := c.WaitLeader(t, heartbeat/2)
	if leader == old {
		t.Fatalf("stopped %s still leads", old)
	}
	res := c.MustApply(t, leader, "after")
	c.WaitApplied(t, res.Index)
	c.Restart(old)
	c.EnsureSame(t)
	if got, want := fmt.Sprint(c.SM(old).Commands()), fmt.Sprint(append(acked, "after")); got != want {
		t.Fatalf("log after shutdown and restart:\n%s\nwant\n%s", got, want)
	}
}
