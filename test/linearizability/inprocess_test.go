package linearizability

import (
	"fmt"
	"testing"
	"time"
)

// inProcessScenarios are the in-process fault mixes; each runs with several
// seeds.
var inProcessScenarios = []struct {
	name   string
	faults []FaultKind
	opts   InProcessOptions
}{
	{"partitions", []FaultKind{PartitionMinority, PartitionMajority, IsolateLeader, Bridge, RandomHalves}, InProcessOptions{}},
	{"partitions-5", []FaultKind{PartitionMinority, PartitionMajority, Bridge, RandomHalves}, InProcessOptions{Members: 5}},
	{"loss-delay", []FaultKind{Loss, Delay}, InProcessOptions{}},
	{"crash-transfer", []FaultKind{Crash, TransferLeader, IsolateLeader}, InProcessOptions{}},
	{"membership", []FaultKind{Membership, TransferLeader, Crash}, InProcessOptions{}},
	{"snapshot", []FaultKind{SnapshotInstall, Crash}, InProcessOptions{SmallSnapshots: true}},
	{"mixed", []FaultKind{PartitionMinority, IsolateLeader, Bridge, Loss, Delay, Crash, TransferLeader, Membership, SnapshotInstall},
		InProcessOptions{SmallSnapshots: true}},
}

// TestInProcess runs every in-process scenario with several seeds against
// clusters of whole members in this process, with faults injected by the
// peer network and by crashing members, and checks each history.
func TestInProcess(t *testing.T) {
	k := RunKnobs(2, 8*time.Second)
	t.Logf("in-process: %d seeds from %d, %s each (CONCORD_SEED=%d replays)", k.Seeds, k.Seed, k.Duration, k.Seed)
	for _, sc := range inProcessScenarios {
		for i := range k.Seeds {
			seed := k.Seed + int64(i)
			t.Run(fmt.Sprintf("%s/seed=%d", sc.name, seed), func(t *testing.T) {
				opts := sc.opts
				opts.Seed = seed
				c := StartInProcess(t, opts)
				s := Scenario{Name: "inprocess-" + sc.name + fmt.Sprintf("-seed%d", seed), Seed: seed, Duration: k.Duration,
					Faults: sc.faults, CrashAllAtEnd: true}
				Run(t, s, c)
				if opts.SmallSnapshots {
					t.Logf("snapshot installs: %d", c.SnapshotInstalls())
				}
			})
		}
	}
}
