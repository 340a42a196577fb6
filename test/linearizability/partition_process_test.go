package linearizability

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/faultproxy"
)

// Network faults between real processes: every member's peer port sits
// behind an internal/faultproxy listener, which the member advertises as
// its peer address (--advertise-peer-addr and --initial-cluster), so raft
// and the node's forwarding RPCs all cross the proxies. The proxies know
// which member dialed each connection and apply per-direction rules.

// OneWay blocks traffic in one direction only: the leader to one follower,
// one follower to the leader, the leader to everyone (it hears, nobody
// hears it), or everyone to the leader (it talks, hears nothing).
const OneWay FaultKind = "one-way"

// proxied is a cluster of agent processes behind fault proxies. Faults it
// does not know (crash, pause, transfer-leader, kill-all) go to External.
type proxied struct {
	*External
	t     *testing.T
	net   *faultproxy.Network
	procs []*process
	// proxyAddr is each member's advertised (proxy) peer address.
	proxyAddr map[string]string
	bin       string

	// Counted by the membership faults (membership_process_test.go);
	// touched only by the schedule's goroutine.
	rotation, memberCycles, snapshotInstalls, elections int
}

// startProxied starts n agents behind fault proxies, each with the extra
// agent flags given.
func startProxied(t *testing.T, n int, extra ...string) *proxied {
	bin := concordBinary(t)
	c := &proxied{t: t, net: faultproxy.New(), proxyAddr: map[string]string{}, bin: bin}
	t.Cleanup(c.net.Close)
	var peers []string
	for i := range n {
		p := &process{t: t, bin: bin, id: fmt.Sprintf("p%d", i+1), dir: t.TempDir(), clientAddr: freePort(t), peerAddr: freePort(t)}
		var err error
		if p.log, err = os.Create(filepath.Join(p.dir, "agent.log")); err != nil {
			t.Fatal(err)
		}
		addr, err := c.net.Listen(p.id, p.peerAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.proxyAddr[p.id] = addr
		id := p.id
		p.onStart = func(pid int) { c.net.SetPID(id, pid) }
		p.extra = append([]string{"--advertise-peer-addr", addr}, extra...)
		c.procs = append(c.procs, p)
		peers = append(peers, p.id+"="+addr)
	}
	for _, p := range c.procs {
		p.cluster = strings.Join(peers, ",")
	}
	c.External = launchProcesses(t, c.procs)
	return c
}

// Inject implements Cluster: the network faults here, the rest through
// External.
func (c *proxied) Inject(ctx context.Context, f Fault) (string, func(context.Context) error, error) {
	switch f.Kind {
	case PartitionMinority, PartitionMajority, IsolateLeader, Bridge, OneWay:
	case Loss, Delay:
		return c.lossDelay(f)
	case MembershipRotation:
		f.Kind = membershipRotation[c.rotation%len(membershipRotation)]
		c.rotation++
		return c.Inject(ctx, f)
	case MemberCycle:
		return c.memberCycle(ctx, f)
	case SnapshotInstall:
		return c.snapshotInstall(ctx, f)
	default:
		return c.External.Inject(ctx, f)
	}
	rng := rand.New(rand.NewSource(f.Seed))
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	leader, err := c.leader(lctx)
	if err != nil {
		return "", nil, err
	}
	var followers []string
	for _, m := range c.Members {
		if m != leader {
			followers = append(followers, m.ID())
		}
	}
	rng.Shuffle(len(followers), func(i, j int) { followers[i], followers[j] = followers[j], followers[i] })
	l := leader.ID()
	mode := faultproxy.Blackhole
	if rng.Intn(2) == 0 {
		mode = faultproxy.Reset
	}
	minority := max(1, (len(c.Members)-1)/2) // followers in a minority with or without the leader
	var desc string
	switch f.Kind {
	case PartitionMinority:
		cut := followers[:minority]
		c.net.Partition(cut, append([]string{l}, followers[minority:]...), mode)
		desc = fmt.Sprintf("%v cut off from the rest (leader %s)", cut, l)
	case PartitionMajority:
		side := append([]string{l}, followers[:minority-1]...)
		c.net.Partition(side, followers[minority-1:], mode)
		desc = fmt.Sprintf("leader side %v | %v", side, followers[minority-1:])
	case IsolateLeader:
		c.net.Isolate(l, followers, mode)
		desc = "isolated the leader " + l
	case Bridge:
		all := append([]string{l}, followers...)
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		half := (len(all) - 1) / 2
		c.net.Partition(all[:half], all[half+1:], mode)
		desc = fmt.Sprintf("%v | %v bridged by %s (leader %s)", all[:half], all[half+1:], all[half], l)
	case OneWay:
		switch rng.Intn(4) {
		case 0:
			c.net.Block(l, followers[0], mode)
			desc = fmt.Sprintf("leader %s -> %s only", l, followers[0])
		case 1:
			c.net.Block(followers[0], l, mode)
			desc = fmt.Sprintf("%s -> leader %s only", followers[0], l)
		case 2:
			for _, fo := range followers {
				c.net.Block(l, fo, mode)
			}
			desc = fmt.Sprintf("leader %s -> every follower (it still hears them)", l)
		case 3:
			for _, fo := range followers {
				c.net.Block(fo, l, mode)
			}
			desc = fmt.Sprintf("every follower -> leader %s (it still talks)", l)
		}
	}
	return fmt.Sprintf("%s, %s: %v", desc, mode, c.net.Rules()), func(ctx context.Context) error {
		if f.Kind == IsolateLeader || f.Kind == PartitionMajority {
			c.noteElection(ctx, l)
		}
		c.net.Heal()
		return nil
	}, nil
}

// noteElection logs, before the heal, whether the members cut off from the
// old leader l elected another one (evidence that the partition held; not
// a condition: a short fault can end before an election).
func (c *proxied) noteElection(ctx context.Context, l string) {
	for _, m := range c.healthy() {
		if m.ID() == l {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := status(sctx, m)
		cancel()
		if err == nil && st.State == "Leader" {
			c.elections++
			c.t.Logf("while cut off from %s, the others elected %s", l, m.ID())
			return
		}
	}
	c.t.Logf("no other leader elected while %s was cut off", l)
}

// lossDelay is Loss (2-20% of chunks close their connection) or Delay
// (5-65 ms plus up to 50 ms of jitter per chunk) on every link, both ways.
func (c *proxied) lossDelay(f Fault) (string, func(context.Context) error, error) {
	rng := rand.New(rand.NewSource(f.Seed))
	c.net.Seed(f.Seed)
	var desc string
	p := 0.02 + 0.18*rng.Float64()
	d := faultproxy.Delay{Base: time.Duration(5+rng.Intn(60)) * time.Millisecond, Jitter: time.Duration(1+rng.Intn(50)) * time.Millisecond}
	for _, a := range c.Members {
		for _, b := range c.Members {
			if a == b {
				continue
			}
			if f.Kind == Loss {
				c.net.SetLoss(a.ID(), b.ID(), p)
			} else {
				c.net.SetDelay(a.ID(), b.ID(), d)
			}
		}
	}
	if f.Kind == Loss {
		desc = fmt.Sprintf("every link loses %.0f%% of its chunks (the connection breaks)", 100*p)
	} else {
		desc = fmt.Sprintf("every link delays each chunk by %s + [0, %s)", d.Base, d.Jitter)
	}
	return desc, func(context.Context) error { c.net.Heal(); return nil }, nil
}

// Endpoints implements Cluster (the member list never changes: a member
// removed and added again keeps its id and addresses).
func (c *proxied) Endpoints() []string { return c.External.Endpoints() }

// Heal implements Cluster: the network first, then the members.
func (c *proxied) Heal(ctx context.Context) error {
	c.net.Heal()
	return c.External.Heal(ctx)
}

// processPartitionScenarios are the network-fault mixes between processes.
var processPartitionScenarios = []struct {
	name    string
	members int
	faults  []FaultKind
	torture bool // only with CONCORD_TORTURE
}{
	{"partitions", 3, []FaultKind{PartitionMinority, IsolateLeader, Bridge, OneWay, Loss, Delay}, false},
	{"partitions-crash", 3, []FaultKind{IsolateLeader, OneWay, Loss, Delay, Crash, Pause, TransferLeader}, true},
	{"partitions-5", 5, []FaultKind{PartitionMinority, PartitionMajority, Bridge, OneWay, Loss}, true},
}

// TestProcessPartitions runs the network-fault scenarios against agent
// processes behind fault proxies, with the workload and checks of every
// scenario and kill -9 of every member at the end.
func TestProcessPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the process level needs a build of the binary and takes a minute or more")
	}
	k := RunKnobs(2, 12*time.Second)
	torture := os.Getenv("CONCORD_TORTURE") != ""
	t.Logf("process partitions: %d seeds from %d, %s each (CONCORD_SEED=%d replays)", k.Seeds, k.Seed, k.Duration, k.Seed)
	for _, sc := range processPartitionScenarios {
		if sc.torture && !torture {
			continue
		}
		for i := range k.Seeds {
			seed := k.Seed + int64(i)
			t.Run(fmt.Sprintf("%s/seed=%d", sc.name, seed), func(t *testing.T) {
				c := startProxied(t, sc.members)
				s := Scenario{Name: "process-" + sc.name + fmt.Sprintf("-seed%d", seed), Seed: seed, Duration: k.Duration,
					Faults: sc.faults, CrashAllAtEnd: true, FaultFor: [2]time.Duration{2 * time.Second, 5 * time.Second},
					FaultGap: [2]time.Duration{time.Second, 3 * time.Second}, Workload: Workload{OpTimeout: 3 * time.Second, LockTTL: 3}}
				Run(t, s, c)
				st := c.net.Stats()
				t.Logf("proxies: %d connections (%d not from a member), %d chunks held, %d connections reset, %d lost, %d chunks delayed; %d elections behind a partition",
					st.Conns, st.Unidentified, st.Held, st.Resets, st.Lost, st.Delayed, c.elections)
				if st.Held+st.Resets+st.Lost+st.Delayed == 0 {
					t.Errorf("no fault reached a connection: the proxies did not recognise the members (%+v)", st)
				}
			})
		}
	}
}
