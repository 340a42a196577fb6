package linearizability

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/lazyfs"
)

// lazyScenarios crash one member, the leader, or every member at once at
// random points of the write load, each crash losing what its members had
// written and not fsync'ed (internal/lazyfs).
var lazyScenarios = []struct {
	name string
	opts InProcessOptions
}{
	{"lose-unsynced", InProcessOptions{LoseUnsynced: true}},
	{"lose-unsynced-snapshots", InProcessOptions{LoseUnsynced: true, SmallSnapshots: true}},
}

// TestInProcessLoseUnsynced runs the lazyfs scenarios with several seeds:
// after every crash the members restart on what a power loss left of their
// raft log and stable store, and the history must still be linearizable,
// keep every acknowledged durable write, and apply nothing twice (the lock
// counter); every member must restart and catch up (Heal fails the run
// otherwise, with the start error).
func TestInProcessLoseUnsynced(t *testing.T) {
	k := RunKnobs(2, 8*time.Second)
	// The short form runs the KV registers, multi-key txns and locks; the
	// SQL, bank and resource clients (whose progress checks need quieter
	// gaps than these crashes leave on a loaded CI machine) join under
	// CONCORD_TORTURE.
	w := Workload{SQLClients: -1, BankClients: -1, ResourceClients: -1}
	if os.Getenv("CONCORD_TORTURE") != "" {
		w = Workload{}
	}
	t.Logf("lose-unsynced: %d seeds from %d, %s each (CONCORD_SEED=%d replays)", k.Seeds, k.Seed, k.Duration, k.Seed)
	var mu sync.Mutex
	var crashes int
	var total lazyfs.Loss
	for _, sc := range lazyScenarios {
		for i := range k.Seeds {
			seed := k.Seed + int64(i)
			t.Run(fmt.Sprintf("%s/seed=%d", sc.name, seed), func(t *testing.T) {
				opts := sc.opts
				opts.Seed = seed
				c := StartInProcess(t, opts)
				s := Scenario{Name: "inprocess-" + sc.name + fmt.Sprintf("-seed%d", seed), Seed: seed, Duration: k.Duration,
					Faults: []FaultKind{Crash, Crash, KillAll}, CrashAllAtEnd: true, Workload: w,
					FaultFor: [2]time.Duration{300 * time.Millisecond, time.Second},
					FaultGap: [2]time.Duration{time.Second, 2 * time.Second}}
				Run(t, s, c)
				n, loss := c.Unsynced()
				t.Logf("lazyfs: %d member crashes lost %s", n, loss)
				mu.Lock()
				crashes += n
				total.Files += loss.Files
				total.Removed += loss.Removed
				total.Bytes += loss.Bytes
				for i := range loss.Modes {
					total.Modes[i] += loss.Modes[i]
				}
				mu.Unlock()
			})
		}
	}
	t.Logf("lazyfs totals: %d member crashes lost %s", crashes, total)
	// node/wal syncs each batch before it returns, so only a batch in
	// flight at the crash instant is un-synced: some runs lose nothing.
	// internal/lazyfs's own tests show that what is un-synced is lost.
	if crashes == 0 {
		t.Errorf("no member crashed: the scenario tested nothing")
	}
}
