package linearizability

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/faultproxy"
)

// Membership changes and snapshot installs against agent processes (behind
// the fault proxies of partition_process_test.go) under the workload.

// MemberCycle removes a follower with `concord members remove` (half the
// time while the proxies cut it off, so that it never gets the entry that
// removes it), checks that
// it stops by itself and that a restart on its old data is refused with a
// clear error, then wipes its data dir, adds it back as a learner with
// `concord members add --learner`, waits until it has caught up, and
// promotes it with `concord members promote`. The member keeps its id and
// addresses, so the clients' endpoints stay valid.
const MemberCycle FaultKind = "member-cycle"

// MembershipRotation injects SnapshotInstall, MemberCycle, TransferLeader
// and OneWay in turn, so that a short run has both membership faults
// whatever its seed.
const MembershipRotation FaultKind = "membership-rotation"

var membershipRotation = []FaultKind{SnapshotInstall, MemberCycle, TransferLeader, OneWay}

// removedText is what a removed member says when it stops (node.ErrRemoved).
const removedText = "removed from the cluster"

// The snapshot settings of the membership scenario: a snapshot every 64
// entries keeping 16, so a member down for a few hundred writes is sent a
// snapshot when it comes back.
var smallSnapshotFlags = []string{"--snapshot-threshold", "64", "--snapshot-catchup-entries", "16", "--snapshot-interval", "100ms"}

const smallSnapshotThreshold = 64

func (c *proxied) proc(id string) *process {
	for _, p := range c.procs {
		if p.id == id {
			return p
		}
	}
	return nil
}

// pickFollower returns the leader and a random healthy follower.
func (c *proxied) pickFollower(ctx context.Context, rng *rand.Rand) (Member, *process, error) {
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	leader, err := c.leader(lctx)
	if err != nil {
		return nil, nil, err
	}
	var followers []*process
	for _, m := range c.healthy() {
		if m != leader {
			followers = append(followers, c.proc(m.ID()))
		}
	}
	if len(followers) == 0 {
		return nil, nil, fmt.Errorf("no healthy follower")
	}
	return leader, followers[rng.Intn(len(followers))], nil
}

// cli runs the concord CLI against the healthy members in turn until one
// succeeds.
func (c *proxied) cli(ctx context.Context, args ...string) (string, error) {
	var errs []string
	for _, m := range c.healthy() {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		cmd := exec.CommandContext(cctx, c.bin, append(args, "--endpoints", m.ClientAddr(), "--timeout", "15s")...)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return string(out), nil
		}
		errs = append(errs, fmt.Sprintf("via %s: %v: %s", m.ID(), err, strings.TrimSpace(string(out))))
	}
	return "", fmt.Errorf("concord %s: %s", strings.Join(args, " "), strings.Join(errs, "; "))
}

// waitExit waits until p's process ends and returns its exit code.
func (p *process) waitExit(ctx context.Context) (int, error) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return 0, fmt.Errorf("%s never started", p.id)
	}
	select {
	case <-done:
		return cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
		return -1, fmt.Errorf("%s still running: %w", p.id, ctx.Err())
	}
}

// logSinceStart is p's log since its last start.
func (p *process) logSinceStart() string {
	b, _ := os.ReadFile(p.log.Name())
	s := string(b)
	if i := strings.LastIndex(s, "=== start"); i >= 0 {
		s = s[i:]
	}
	return s
}

// checkRefused waits until p exits and checks that it failed saying it was
// removed.
func (c *proxied) checkRefused(ctx context.Context, p *process, what string) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	code, err := p.waitExit(wctx)
	if err != nil {
		p.Kill()
		return fmt.Errorf("%s: %w", what, err)
	}
	log := p.logSinceStart()
	if code == 0 || !strings.Contains(log, removedText) {
		return fmt.Errorf("%s: exit code %d, want non-zero and %q in its output:\n%s", what, code, removedText, log)
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, removedText) {
			c.t.Logf("%s: %s exited with code %d: %s", what, p.id, code, line)
			break
		}
	}
	return nil
}

// waitCaughtUp waits until m applied what leader had committed when called.
func waitCaughtUp(ctx context.Context, leader, m Member) error {
	var target uint64
	for {
		st, err := status(ctx, leader)
		if err == nil {
			target = st.CommitIndex
			break
		}
		if pause(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("leader %s status: %w", leader.ID(), err)
		}
	}
	for {
		st, err := status(ctx, m)
		if err == nil && st.AppliedIndex >= target {
			return nil
		}
		if pause(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("%s did not apply index %d (status %+v, %v)", m.ID(), target, st, err)
		}
	}
}

// memberCycle is the MemberCycle fault. A failure after the removal is a
// test failure: the cluster must be able to take the member back.
func (c *proxied) memberCycle(ctx context.Context, f Fault) (string, func(context.Context) error, error) {
	rng := rand.New(rand.NewSource(f.Seed))
	leader, victim, err := c.pickFollower(ctx, rng)
	if err != nil {
		return "", nil, err
	}
	// Half the time the member is cut off while it is removed, so it cannot
	// learn it from its log and must find out from the others.
	cutOff := rng.Intn(2) == 0
	if cutOff {
		var others []string
		for _, m := range c.Members {
			if m.ID() != victim.id {
				others = append(others, m.ID())
			}
		}
		c.net.Isolate(victim.id, others, faultproxy.Reset)
	}
	began := time.Now()
	_, err = c.cli(ctx, "members", "remove", victim.id)
	c.net.Heal()
	if err != nil {
		return "", nil, err
	}
	c.set(c.killed, victim.id, true) // out of the healthy set until promoted
	fail := func(err error) (string, func(context.Context) error, error) {
		c.t.Errorf("member cycle of %s: %v", victim.id, err)
		return "", nil, err
	}
	// From here on the member must come back: the steps get their own
	// time, not what is left of the schedule's minute for one fault.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var steps []string
	step := func(name string) {
		steps = append(steps, fmt.Sprintf("%s %s", name, time.Since(began).Round(100*time.Millisecond)))
		began = time.Now()
	}
	step("removed")
	if err := c.checkRefused(ctx, victim, "removed, it stops by itself"); err != nil {
		return fail(err)
	}
	step("stopped")
	if err := victim.Start(ctx); err != nil {
		return fail(err)
	}
	if err := c.checkRefused(ctx, victim, "restarted on its old data after its removal, it refuses"); err != nil {
		return fail(err)
	}
	step("refused")
	if err := os.RemoveAll(filepath.Join(victim.dir, "data")); err != nil {
		return fail(err)
	}
	victim.cluster = "" // a fresh member added by `members add` waits to be contacted
	if _, err := c.cli(ctx, "members", "add", victim.id, c.proxyAddr[victim.id], "--learner", "--client-addr", victim.clientAddr); err != nil {
		return fail(err)
	}
	if err := victim.Start(ctx); err != nil {
		return fail(err)
	}
	step("added")
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := waitCaughtUp(wctx, leader, victim); err != nil {
		return fail(fmt.Errorf("the learner did not catch up: %w", err))
	}
	step("caught up")
	if _, err := c.cli(ctx, "members", "promote", victim.id); err != nil {
		return fail(err)
	}
	step("promoted")
	c.set(c.killed, victim.id, false)
	c.memberCycles++
	how := ""
	if cutOff {
		how = " while cut off from the others"
	}
	return fmt.Sprintf("removed %s%s, it stopped by itself, a restart on its old data was refused, added back with a fresh data dir as a learner, caught up, promoted (%s)",
		victim.id, how, strings.Join(steps, ", ")), nil, nil
}

// snapshotInstall is the SnapshotInstall fault between processes: a
// follower is killed, the leader takes writes until every other member has
// compacted its log past the follower's last entry, and when the fault
// ends the follower restarts and must catch up by installing a snapshot.
func (c *proxied) snapshotInstall(ctx context.Context, f Fault) (string, func(context.Context) error, error) {
	rng := rand.New(rand.NewSource(f.Seed))
	leader, victim, err := c.pickFollower(ctx, rng)
	if err != nil {
		return "", nil, err
	}
	before := strings.Count(readLog(victim), "Installed remote snapshot")
	if err := victim.Kill(); err != nil {
		return "", nil, err
	}
	c.set(c.killed, victim.id, true)
	// Every member left must compact its log past the victim's last index
	// (at most the leader's now), so that whichever leads when the victim
	// is back has to send it a snapshot.
	var last uint64
	if st, err := status(ctx, leader); err == nil {
		last = st.LastLogIndex
	} else {
		return "", nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	for !c.compactedPast(victim.id, last) {
		if err := fill(wctx, leader.ClientAddr(), 2*smallSnapshotThreshold); err != nil {
			c.t.Logf("snapshot-install: filler writes: %v", err)
		}
		if pause(wctx, 200*time.Millisecond) != nil {
			return "", nil, fmt.Errorf("the members did not compact their logs past index %d within 40 s", last)
		}
	}
	return fmt.Sprintf("killed %s and wrote until every other member compacted its log past index %d", victim.id, last), func(ctx context.Context) error {
		if err := victim.Start(ctx); err != nil {
			return err
		}
		c.set(c.killed, victim.id, false)
		wctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		for strings.Count(readLog(victim), "Installed remote snapshot") == before {
			if pause(wctx, 100*time.Millisecond) != nil {
				return fmt.Errorf("%s restarted but did not install a snapshot from the leader", victim.id)
			}
		}
		c.snapshotInstalls++
		l, err := c.leader(wctx)
		if err != nil {
			return err
		}
		return waitCaughtUp(wctx, l, victim)
	}, nil
}

var compactingRE = regexp.MustCompile(`msg="compacting logs".* to=(\d+)`)

// compactedPast reports whether every healthy member but except logged,
// since its last start, raft compacting its log past index.
func (c *proxied) compactedPast(except string, index uint64) bool {
	for _, m := range c.healthy() {
		if m.ID() == except {
			continue
		}
		var top uint64
		for _, sub := range compactingRE.FindAllStringSubmatch(c.proc(m.ID()).logSinceStart(), -1) {
			if n, err := strconv.ParseUint(sub[1], 10, 64); err == nil && n > top {
				top = n
			}
		}
		if top <= index {
			return false
		}
	}
	return true
}

func readLog(p *process) string {
	b, _ := os.ReadFile(p.log.Name())
	return string(b)
}

// TestProcessMembership runs membership cycles and snapshot installs
// against agent processes under the workload (with crashes and leader
// moves in between), with the checks of every scenario.
func TestProcessMembership(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the process level needs a build of the binary and takes a minute or more")
	}
	k := RunKnobs(1, 15*time.Second)
	t.Logf("process membership: %d seeds from %d, %s each (CONCORD_SEED=%d replays)", k.Seeds, k.Seed, k.Duration, k.Seed)
	for i := range k.Seeds {
		seed := k.Seed + int64(i)
		t.Run(fmt.Sprintf("membership-snapshot/seed=%d", seed), func(t *testing.T) {
			c := startProxied(t, 3, append([]string{"--log-level", "info"}, smallSnapshotFlags...)...)
			s := Scenario{Name: "process-membership-snapshot" + fmt.Sprintf("-seed%d", seed), Seed: seed, Duration: k.Duration,
				Faults: []FaultKind{MembershipRotation}, CrashAllAtEnd: true,
				FaultFor: [2]time.Duration{time.Second, 3 * time.Second}, FaultGap: [2]time.Duration{time.Second, 2 * time.Second},
				Workload: Workload{OpTimeout: 3 * time.Second, LockTTL: 3}}
			Run(t, s, c)
			t.Logf("membership cycles: %d, snapshot installs: %d", c.memberCycles, c.snapshotInstalls)
			if c.memberCycles == 0 || c.snapshotInstalls == 0 {
				t.Errorf("the run did not complete a membership cycle and a snapshot install (%d, %d): nothing was tested", c.memberCycles, c.snapshotInstalls)
			}
		})
	}
}
