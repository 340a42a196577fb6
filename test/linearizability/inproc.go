package linearizability

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/internal/lazyfs"
	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
)

// InProcessOptions tune an in-process cluster.
type InProcessOptions struct {
	Members int           // default 3
	Timeout time.Duration // heartbeat and election timeout, default 500ms
	// SmallSnapshots snapshots every few dozen entries and keeps few
	// trailing entries, so that a follower cut off for a second or two
	// catches up from a snapshot.
	SmallSnapshots bool
	Seed           int64 // drives message loss and jitter
	// LoseUnsynced runs each member's raft log and stable store (node/wal)
	// through an internal/lazyfs Disk: a crash then loses, keeps a prefix
	// of, or tears what was written and not yet fsync'ed (lazy_inproc.go).
	// For scenarios whose only faults are crashes: a crash heals the
	// network.
	LoseUnsynced bool
	// DataDir, if set and not "", is the data dir of the member with this
	// id (default: a directory of the cluster's own): diskfull_test.go
	// puts one member's on a small file system.
	DataDir func(id string) string
}

// InProcess is a cluster of whole members (node, kv, etcd API) in this
// process, on loopback, with peer traffic through a fault-injecting
// testcluster.Network.
type InProcess struct {
	t    testing.TB
	opts InProcessOptions
	nw   *testcluster.Network
	dir  string

	mu      sync.Mutex
	members []*member
	next    int

	snapshotInstalls atomic.Int64
	lazy             lazyTotals
}

type member struct {
	id      string
	cfg     agent.Config
	a       *agent.Agent // nil while crashed
	removed bool
	disk    *lazyfs.Disk // with LoseUnsynced
}

// StartInProcess starts a cluster whose members all start at once with an
// initial cluster list, and waits until it has a leader.
func StartInProcess(t testing.TB, opts InProcessOptions) *InProcess {
	t.Helper()
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Timeout == 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	c := &InProcess{t: t, opts: opts, nw: testcluster.NewNetwork(opts.Seed), dir: t.TempDir()}
	t.Cleanup(c.crashAll)
	var peers []node.Peer
	for range opts.Members {
		m := c.newMember()
		peers = append(peers, node.Peer{ID: m.id, Addr: m.cfg.Node.PeerAddr})
	}
	for _, m := range c.members {
		m.cfg.Node.InitialCluster = peers
		c.start(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Heal(ctx); err != nil {
		t.Fatalf("in-process cluster: %v", err)
	}
	return c
}

// newMember reserves a peer address and a config for a new member.
func (c *InProcess) newMember() *member {
	c.mu.Lock()
	id := "m" + strconv.Itoa(c.next)
	c.next++
	c.mu.Unlock()
	addr, err := c.nw.Reserve(id)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := agent.Config{ClientAddr: "127.0.0.1:0", Logger: c.logger(id)}
	cfg.Node = node.DefaultConfig()
	cfg.Node.ID, cfg.Node.DataDir = id, filepath.Join(c.dir, id)
	if c.opts.DataDir != nil && c.opts.DataDir(id) != "" {
		cfg.Node.DataDir = c.opts.DataDir(id)
	}
	cfg.Node.PeerAddr, cfg.Node.AdvertisePeerAddr = addr, addr
	cfg.Node.HeartbeatTimeout, cfg.Node.ElectionTimeout = c.opts.Timeout, c.opts.Timeout
	cfg.Node.LeaderTimeout, cfg.Node.ApplyTimeout = 10*time.Second, 5*time.Second
	cfg.Node.Network = c.nw.Endpoint(id)
	cfg.Node.Logger = cfg.Logger // DefaultConfig set a discarding one
	if c.opts.SmallSnapshots {
		cfg.Node.SnapshotThreshold, cfg.Node.TrailingLogs, cfg.Node.SnapshotInterval = 64, 16, 100*time.Millisecond
	}
	m := &member{id: id, cfg: cfg}
	if c.opts.LoseUnsynced {
		m.disk = lazyfs.New(cfg.Node.DataDir)
		c.t.Cleanup(m.disk.Close)
	}
	c.mu.Lock()
	c.members = append(c.members, m)
	c.mu.Unlock()
	return m
}

// start starts m and pins its client address for restarts.
func (c *InProcess) start(m *member) error {
	a, err := agent.Start(m.cfg)
	if err != nil {
		return fmt.Errorf("start %s: %w", m.id, err)
	}
	c.mu.Lock()
	m.a = a
	m.cfg.ClientAddr = a.ClientAddr()
	// A restart neither bootstraps nor joins.
	m.cfg.Node.InitialCluster, m.cfg.Node.Join, m.cfg.Node.Bootstrap = nil, nil, false
	c.mu.Unlock()
	return nil
}

// SnapshotInstalls counts snapshots members installed from a leader.
func (c *InProcess) SnapshotInstalls() int64 { return c.snapshotInstalls.Load() }

// Endpoints implements Cluster.
func (c *InProcess) Endpoints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var eps []string
	for _, m := range c.members {
		if !m.removed {
			eps = append(eps, m.cfg.ClientAddr)
		}
	}
	return eps
}

// live returns the running, non-removed members.
func (c *InProcess) live() []*member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*member
	for _, m := range c.members {
		if m.a != nil && !m.removed {
			out = append(out, m)
		}
	}
	return out
}

func (c *InProcess) leader(ctx context.Context) (*member, error) {
	for {
		for _, m := range c.live() {
			if m.a.Node.IsLeader() {
				return m, nil
			}
		}
		if err := pause(ctx, 20*time.Millisecond); err != nil {
			return nil, errors.New("no leader")
		}
	}
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ids(ms []*member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.id
	}
	return out
}

// Inject implements Cluster.
func (c *InProcess) Inject(ctx context.Context, f Fault) (string, func(context.Context) error, error) {
	rng := rand.New(rand.NewSource(f.Seed))
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	leader, err := c.leader(lctx)
	if err != nil {
		return "", nil, err
	}
	live := c.live()
	var followers []*member
	for _, m := range live {
		if m != leader {
			followers = append(followers, m)
		}
	}
	rng.Shuffle(len(followers), func(i, j int) { followers[i], followers[j] = followers[j], followers[i] })
	minority := max(1, (len(live)-1)/2)
	heal := func(context.Context) error { c.nw.Heal(); return nil }
	partition := func(a, b []*member) (string, func(context.Context) error, error) {
		c.nw.Partition(ids(a), ids(b))
		return fmt.Sprintf("%v | %v (leader %s)", ids(a), ids(b), leader.id), heal, nil
	}
	switch f.Kind {
	case PartitionMinority:
		return partition(followers[:minority], append([]*member{leader}, followers[minority:]...))
	case PartitionMajority:
		side := append([]*member{leader}, followers[:minority-1]...)
		return partition(side, followers[minority-1:])
	case IsolateLeader:
		c.nw.Isolate(leader.id)
		return "isolated leader " + leader.id, heal, nil
	case Bridge:
		all := append([]*member{leader}, followers...)
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		half := (len(all) - 1) / 2
		c.nw.Partition(ids(all[:half]), ids(all[half+1:]))
		return fmt.Sprintf("%v | %v bridged by %s (leader %s)", ids(all[:half]), ids(all[half+1:]), all[half].id, leader.id), heal, nil
	case RandomHalves:
		all := append([]*member{leader}, followers...)
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		return partition(all[:len(all)/2], all[len(all)/2:])
	case Loss:
		p := 0.02 + 0.18*rng.Float64()
		c.nw.SetDrop(testcluster.Any, testcluster.Any, p)
		return fmt.Sprintf("drop %.0f%% of messages on every link", 100*p), heal, nil
	case Delay:
		d := testcluster.Delay{Base: time.Duration(5+rng.Intn(60)) * time.Millisecond, Jitter: time.Duration(1+rng.Intn(50)) * time.Millisecond}
		c.nw.SetDelay(testcluster.Any, testcluster.Any, d)
		return fmt.Sprintf("delay every link by %s + [0, %s)", d.Base, d.Jitter), heal, nil
	case Crash:
		victim := leader
		if rng.Intn(2) == 0 && len(followers) > 0 {
			victim = followers[0]
		}
		c.crash(victim)
		return "crashed " + victim.id + leaderNote(victim, leader), func(context.Context) error { return c.start(victim) }, nil
	case KillAll:
		c.crashAll()
		return "crashed every member", c.Heal, nil
	case TransferLeader:
		if len(followers) == 0 {
			return "", nil, errors.New("no follower")
		}
		to := followers[0]
		if err := leader.a.Node.TransferLeadership(ctx, to.id); err != nil {
			return "", nil, fmt.Errorf("transfer %s -> %s: %w", leader.id, to.id, err)
		}
		return "moved leadership from " + leader.id + " to " + to.id, nil, nil
	case Membership:
		return c.membership(ctx, leader, live, rng)
	case SnapshotInstall:
		if !c.opts.SmallSnapshots {
			return "", nil, fmt.Errorf("%w: needs InProcessOptions.SmallSnapshots", ErrUnsupported)
		}
		victim := followers[0]
		before := c.snapshotInstalls.Load()
		c.nw.Isolate(victim.id)
		// Write enough through the leader that it snapshots and compacts its
		// log past the victim, whatever the workload's pace.
		if err := fill(ctx, leader.cfg.ClientAddr, 4*int(leader.cfg.Node.SnapshotThreshold)); err != nil {
			c.t.Logf("snapshot-install: filler writes: %v", err)
		}
		return "cut off " + victim.id + " so that it catches up from a snapshot", func(ctx context.Context) error {
			c.nw.Heal()
			// Evidence, not a condition of correctness: say whether it happened.
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			for c.snapshotInstalls.Load() == before && pause(wctx, 20*time.Millisecond) == nil {
			}
			if c.snapshotInstalls.Load() == before {
				c.t.Logf("%s caught up without installing a snapshot", victim.id)
			}
			return nil
		}, nil
	}
	return "", nil, fmt.Errorf("%w: %s", ErrUnsupported, f.Kind)
}

// fill makes n puts of filler keys through endpoint, 16 at a time.
func fill(ctx context.Context, endpoint string, n int) error {
	cli, err := newClient([]string{endpoint})
	if err != nil {
		return err
	}
	defer cli.Close()
	var next atomic.Int64
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			var err error
			for i := next.Add(1); i <= int64(n) && err == nil; i = next.Add(1) {
				octx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err = cli.Put(octx, "lin/filler/"+strconv.FormatInt(i%64, 10), "x")
				cancel()
			}
			errs <- err
		}()
	}
	var all []error
	for range 16 {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

func leaderNote(victim, leader *member) string {
	if victim == leader {
		return " (the leader)"
	}
	return ""
}

// membership adds a fresh voter; undoing it removes a random follower
// voter, which may be the new one, so the cluster keeps its size.
func (c *InProcess) membership(ctx context.Context, leader *member, live []*member, rng *rand.Rand) (string, func(context.Context) error, error) {
	m := c.newMember()
	for _, o := range live {
		m.cfg.Node.Join = append(m.cfg.Node.Join, o.cfg.Node.AdvertisePeerAddr)
	}
	if err := c.start(m); err != nil {
		c.mu.Lock()
		m.removed = true
		c.mu.Unlock()
		return "", nil, err
	}
	undo := func(ctx context.Context) error {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		l, err := c.leader(lctx)
		if err != nil {
			return err
		}
		var candidates []*member
		for _, o := range c.live() {
			if o != l {
				candidates = append(candidates, o)
			}
		}
		if len(candidates) < c.opts.Members {
			return nil // the add did not take; keep the size
		}
		victim := candidates[rng.Intn(len(candidates))]
		if err := l.a.Node.RemoveServer(lctx, victim.id); err != nil {
			return fmt.Errorf("remove %s: %w", victim.id, err)
		}
		c.mu.Lock()
		victim.removed = true
		c.mu.Unlock()
		c.crash(victim)
		c.t.Logf("membership: removed %s", victim.id)
		return nil
	}
	return "added voter " + m.id + " (joining through " + strings.Join(ids(live), ",") + ")", undo, nil
}

func (c *InProcess) crash(m *member) {
	if m.disk != nil {
		c.crashLosing([]*member{m})
		return
	}
	c.mu.Lock()
	a := m.a
	m.a = nil
	c.mu.Unlock()
	if a != nil {
		done := make(chan struct{})
		go func() { a.Crash(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			path := dumpGoroutines(m.id + "-crash-hang")
			c.t.Fatalf("%s did not stop within a minute of a crash; goroutines: %s", m.id, path)
		}
	}
	c.nw.CloseConns(m.id)
}

// dumpGoroutines writes every goroutine's stack under the artifact dir.
func dumpGoroutines(name string) string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	path := artifactPath(ArtifactDir(), name, ".txt")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return fmt.Sprintf("(writing %s: %v)", path, err)
	}
	return path
}

// Heal implements Cluster.
func (c *InProcess) Heal(ctx context.Context) error {
	c.nw.Heal()
	c.mu.Lock()
	var down []*member
	for _, m := range c.members {
		if m.a == nil && !m.removed {
			down = append(down, m)
		}
	}
	c.mu.Unlock()
	for _, m := range down {
		if err := c.start(m); err != nil {
			return err
		}
	}
	for _, m := range c.live() {
		select {
		case <-m.a.Node.Ready():
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %+v", m.id, m.a.Node.Status())
		}
	}
	if _, err := c.leader(ctx); err != nil {
		return err
	}
	return c.waitCaughtUp(ctx)
}

// waitCaughtUp waits until every running member applied what the leader
// had committed: a follower the leader stopped replicating to (while its
// heartbeats still flow) shows up here.
func (c *InProcess) waitCaughtUp(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l, err := c.leader(wctx)
	if err != nil {
		return err
	}
	target := l.a.Node.Status().CommitIndex
	for _, m := range c.live() {
		for m.a.Node.AppliedIndex() < target {
			if pause(wctx, 20*time.Millisecond) != nil {
				return fmt.Errorf("%s stuck at applied index %d; leader %s committed %d", m.id, m.a.Node.AppliedIndex(), l.id, target)
			}
		}
	}
	return nil
}

// CrashAll implements Cluster.
func (c *InProcess) CrashAll(ctx context.Context) error {
	c.crashAll()
	return c.Heal(ctx)
}

func (c *InProcess) crashAll() {
	if c.opts.LoseUnsynced {
		c.crashLosing(c.live())
		return
	}
	var wg sync.WaitGroup
	for _, m := range c.live() {
		wg.Add(1)
		go func() { defer wg.Done(); c.crash(m) }()
	}
	wg.Wait()
}

// logger sends warnings and errors to t.Log (shown on failure) and counts
// snapshot installs.
func (c *InProcess) logger(id string) *slog.Logger {
	return slog.New(&countingHandler{c: c, next: slog.NewTextHandler(tWriter{c.t}, &slog.HandlerOptions{Level: slog.LevelWarn})}).With("member", id)
}

type countingHandler struct {
	c    *InProcess
	next slog.Handler
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "Installed remote snapshot" {
		h.c.snapshotInstalls.Add(1)
	}
	if h.next.Enabled(ctx, r.Level) || r.Message == "Installed remote snapshot" {
		return h.next.Handle(ctx, r)
	}
	return nil
}
func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &countingHandler{c: h.c, next: h.next.WithAttrs(as)}
}
func (h *countingHandler) WithGroup(n string) slog.Handler {
	return &countingHandler{c: h.c, next: h.next.WithGroup(n)}
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
