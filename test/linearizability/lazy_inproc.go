package linearizability

import (
	"math/rand"
	"sync"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/internal/lazyfs"
)

// lazyTotals add up what crashes with InProcessOptions.LoseUnsynced lost.
type lazyTotals struct {
	mu      sync.Mutex
	rng     *rand.Rand
	crashes int
	loss    lazyfs.Loss
}

// Unsynced reports how many member crashes lost un-fsynced writes and
// what they lost, summed.
func (c *InProcess) Unsynced() (crashes int, loss lazyfs.Loss) {
	c.lazy.mu.Lock()
	defer c.lazy.mu.Unlock()
	return c.lazy.crashes, c.lazy.loss
}

// crashLosing crashes ms at one instant, as a power loss does: each
// member's Disk is frozen (a sync after this blocks and will not count as
// durable) and the member is cut off the peer network, so that nothing it
// would acknowledge on the strength of such a sync reaches a peer. Once
// its client server is gone and raft is shutting down (agent.Crash stops
// them in that order), the blocked syncs are let go, the member stops, and
// its Disk loses what was not synced. Then the network heals.
func (c *InProcess) crashLosing(ms []*member) {
	type victim struct {
		m *member
		a *agent.Agent
	}
	var vs []victim
	c.mu.Lock()
	for _, m := range ms {
		if m.a != nil {
			vs = append(vs, victim{m, m.a})
			m.a = nil
		}
	}
	c.mu.Unlock()
	for _, v := range vs {
		v.m.disk.Freeze()
		c.nw.Isolate(v.m.id)
	}
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			go func() { v.a.Crash(); close(done) }()
			deadline := time.Now().Add(10 * time.Second)
		wait:
			for v.a.Node.Status().State != "Shutdown" && time.Now().Before(deadline) {
				select {
				case <-done:
					break wait
				case <-time.After(5 * time.Millisecond):
				}
			}
			v.m.disk.Thaw()
			select {
			case <-done:
			case <-time.After(time.Minute):
				path := dumpGoroutines(v.m.id + "-crash-hang")
				c.t.Errorf("%s did not stop within a minute of a crash; goroutines: %s", v.m.id, path)
				return
			}
			c.nw.CloseConns(v.m.id)
		}()
	}
	wg.Wait()
	c.lazy.mu.Lock()
	defer c.lazy.mu.Unlock()
	if c.lazy.rng == nil {
		c.lazy.rng = rand.New(rand.NewSource(c.opts.Seed))
	}
	for _, v := range vs {
		loss, err := v.m.disk.Crash(c.lazy.rng)
		if err != nil {
			c.t.Errorf("%s: %v", v.m.id, err)
		}
		c.lazy.crashes++
		c.lazy.loss.Files += loss.Files
		c.lazy.loss.Removed += loss.Removed
		c.lazy.loss.Revived += loss.Revived
		c.lazy.loss.Bytes += loss.Bytes
		for i := range loss.Modes {
			c.lazy.loss.Modes[i] += loss.Modes[i]
		}
	}
	c.nw.Heal()
}
