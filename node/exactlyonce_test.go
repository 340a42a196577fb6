package node_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
)

// TestExactlyOnceUnderRetries runs many concurrent applies through every
// node while links lose messages and the leader crashes mid-flight. Forwarded
// commands whose answer was lost are retried; each must be applied at most
// once, and every acknowledged one exactly once.
func TestExactlyOnceUnderRetries(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3, CommitRetries: 10, ApplyTimeout: 2 * time.Second})
	leader := c.WaitLeader(t, electTimeout)
	ids := c.IDs()
	c.SetDrop(testcluster.Any, testcluster.Any, 0.02)

	const workers, perWorker = 12, 25
	var (
		mu     sync.Mutex
		acked  = map[string]bool{}
		failed = map[string]error{}
		done   atomic.Int64
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				cmd := fmt.Sprintf("w%d-%d", w, i)
				var err error
				// Through a running node, preferring a follower.
				n := c.Running(ids[(w+i)%len(ids)])
				if n == nil {
					n = c.Running(ids[(w+i+1)%len(ids)])
				}
				if n == nil {
					err = fmt.Errorf("no running node to apply through")
				} else {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					_, err = n.Apply(ctx, node.TypeUser, []byte(cmd))
					cancel()
				}
				mu.Lock()
				if err == nil {
					acked[cmd] = true
				} else {
					failed[cmd] = err
				}
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	c.WaitFor(t, waitTimeout, func() bool { return done.Load() >= workers*perWorker/3 }, "a third of the commands")
	c.Crash(leader)
	c.WaitFor(t, waitTimeout, func() bool { return done.Load() >= 2*workers*perWorker/3 }, "two thirds of the commands")
	c.Restart(leader)
	wg.Wait()

	c.Heal()
	res := c.MustApply(t, c.WaitLeader(t, electTimeout), "final")
	c.WaitApplied(t, res.Index)
	c.EnsureSame(t)
	sm := c.SM(c.IDs()[0])
	counts := map[string]int{}
	for _, cmd := range sm.Commands() {
		counts[cmd]++
	}
	for cmd, n := range counts {
		if n > 1 {
			t.Errorf("%q applied %d times", cmd, n)
		}
	}
	for cmd := range acked {
		if counts[cmd] != 1 {
			t.Errorf("acknowledged %q applied %d times, want 1", cmd, counts[cmd])
		}
	}
	applied := 0
	for cmd, err := range failed {
		applied += counts[cmd]
		t.Logf("failed %q (applied %d times): %v", cmd, counts[cmd], err)
	}
	t.Logf("%d acknowledged, %d failed (%d of them applied), %d commands in the log", len(acked), len(failed), applied, len(sm.Commands()))
	if len(acked) < workers*perWorker/2 {
		t.Errorf("only %d of %d commands acknowledged", len(acked), workers*perWorker)
	}
}
