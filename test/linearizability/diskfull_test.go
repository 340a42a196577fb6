package linearizability

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/internal/diskfull"
	"github.com/concord-db/concord/node/wal"
)

// TestInProcessDiskFull fills one member's data dir during the write load
// (KV registers, multi-key txns, locks, SQL, bank and resources), then
// frees it. The data dir is a tmpfs of its own where the machine allows
// mounting one (root); elsewhere ENOSPC is injected into its raft log's
// writes (wal.SetWriteFault) and the log says so. The full member refuses
// writes and reports the condition; when it led, it steps down and the
// others go on; the history stays linearizable with no acknowledged
// write lost; once space returns the member takes writes again and
// catches up without a restart (the same agent runs throughout), and a
// kill of every member at the end finds every acknowledged write.
func TestInProcessDiskFull(t *testing.T) {
	k := RunKnobs(1, 20*time.Second)
	t.Logf("disk-full: %d seeds from %d, %s each (CONCORD_SEED=%d replays)", k.Seeds, k.Seed, k.Duration, k.Seed)
	for i := range k.Seeds {
		seed := k.Seed + int64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runDiskFull(t, seed, k.Duration) })
	}
}

func runDiskFull(t *testing.T, seed int64, duration time.Duration) {
	fs := diskfull.New(t, 64<<20)
	if !fs.Real {
		t.Cleanup(wal.SetWriteFault(func(path string) error {
			if fs.Full() && strings.HasPrefix(path, fs.Dir) {
				return syscall.ENOSPC
			}
			return nil
		}))
	}
	c := StartInProcess(t, InProcessOptions{Seed: seed, DataDir: func(id string) string {
		if id == "m0" {
			return filepath.Join(fs.Dir, id)
		}
		return ""
	}})
	c.mu.Lock()
	m0 := c.members[0]
	a0 := m0.a
	c.mu.Unlock()
	rng := rand.New(rand.NewSource(seed))
	onLeader := rng.Intn(2) == 0
	if onLeader {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if l, err := c.leader(ctx); err == nil && l != m0 {
			if err := l.a.Node.TransferLeadership(ctx, m0.id); err != nil {
				t.Logf("moving leadership to %s: %v (the disk fills on a follower)", m0.id, err)
			}
		}
	}
	fillAt := time.Second + time.Duration(rng.Int63n(int64(2*time.Second)))
	hold := time.Second + time.Duration(rng.Int63n(int64(2*time.Second)))
	res := make(chan diskFullOutcome, 1)
	start := time.Now()
	go func() { res <- driveDiskFull(t, c, fs, a0, start, fillAt, hold, duration) }()

	s := Scenario{Name: fmt.Sprintf("inprocess-disk-full-seed%d", seed), Seed: seed, Duration: duration, CrashAllAtEnd: true}
	Run(t, s, c)
	out := <-res
	t.Logf("disk-full: %s's file system filled at +%s (it led: %v), the member found it full %s later (%d writes refused for space), space returned at +%s, writes taken again %s later",
		m0.id, out.filledAt.Round(time.Millisecond), out.led, out.detected.Round(time.Millisecond), out.refused,
		out.freedAt.Round(time.Millisecond), out.recovered.Round(time.Millisecond))
	if !out.seen {
		t.Errorf("%s never found its file system full: the scenario tested nothing", m0.id)
	}
	if !out.back {
		t.Errorf("%s did not take writes again within 30s of space returning", m0.id)
	}
	c.mu.Lock()
	restarted := out.agentAtFree != a0
	c.mu.Unlock()
	if restarted {
		t.Errorf("%s was restarted while its disk was full: it must recover without one", m0.id)
	}
}

type diskFullOutcome struct {
	filledAt, freedAt   time.Duration
	detected, recovered time.Duration
	led, seen, back     bool
	refused             uint64
	agentAtFree         *agent.Agent
}

// driveDiskFull fills the file system at fillAt, pushes large writes
// through another member until a0 finds its disk full (so that its log
// runs past the space allocated ahead), holds the condition, frees the
// space and waits until a0 takes writes again; all before the workload
// ends, so that Run's final heal sees the member recovered.
func driveDiskFull(t *testing.T, c *InProcess, fs *diskfull.FS, a0 *agent.Agent, start time.Time, fillAt, hold, duration time.Duration) diskFullOutcome {
	var out diskFullOutcome
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(duration-4*time.Second))
	defer cancel()
	if pause(ctx, time.Until(start.Add(fillAt))) != nil {
		return out
	}
	out.led = a0.Node.IsLeader()
	fs.Fill(t)
	out.filledAt = time.Since(start)
	filled := time.Now()
	pctx, stopPush := context.WithCancel(ctx)
	go pushLarge(pctx, c, a0)
	for !a0.Node.DiskFull() && pause(ctx, 20*time.Millisecond) == nil {
	}
	stopPush()
	out.seen = a0.Node.DiskFull()
	out.detected = time.Since(filled)
	if out.seen {
		pause(ctx, hold)
	}
	out.refused = a0.Node.DiskFullErrors()
	fs.Free(t)
	out.freedAt = time.Since(start)
	c.mu.Lock()
	out.agentAtFree = c.members[0].a
	c.mu.Unlock()
	freed := time.Now()
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	for a0.Node.DiskFull() && pause(rctx, 20*time.Millisecond) == nil {
	}
	out.back = !a0.Node.DiskFull()
	out.recovered = time.Since(freed)
	return out
}

// pushLarge writes 64 KiB values through the other members until ctx
// ends: the full member's log must grow past the zeros it allocated ahead
// before a write finds no space.
func pushLarge(ctx context.Context, c *InProcess, a0 *agent.Agent) {
	var eps []string
	for _, m := range c.live() {
		if m.a != a0 {
			eps = append(eps, m.cfg.ClientAddr)
		}
	}
	cli, err := newClient(eps)
	if err != nil {
		return
	}
	defer cli.Close()
	value := strings.Repeat("f", 64<<10)
	for i := 0; ctx.Err() == nil; i++ {
		octx, cancel := context.WithTimeout(ctx, 2*time.Second)
		cli.Put(octx, fmt.Sprintf("lin/diskfull/%d", i%32), value)
		cancel()
	}
}
