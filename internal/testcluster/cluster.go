package testcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
)

// Options configure a Cluster. Zero values mean the defaults noted.
type Options struct {
	// Nodes is how many voters the cluster starts with. Default 3.
	Nodes int
	// HeartbeatTimeout and ElectionTimeout are raft's. Default 300ms each:
	// short enough for quick tests, long enough that a loaded 2-core machine
	// under -race does not fall into election storms.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// LeaderTimeout and ApplyTimeout bound the nodes' waits. Default 5s each.
	LeaderTimeout time.Duration
	ApplyTimeout  time.Duration
	// CommitRetries is node.Config's. Default: the node's default.
	CommitRetries int
	// SnapshotThreshold, SnapshotInterval and TrailingLogs are node.Config's.
	// Default: the node's defaults (which never snapshot in a short test).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// WaitTimeout is the deadline of WaitApplied and EnsureSame. Default 30s.
	WaitTimeout time.Duration
	// Seed seeds the network's faults. Default: the current time (logged).
	Seed int64
	// Configure, if set, has the last word on each node's config.
	Configure func(*node.Config)
	// Register, if set, is called on every incarnation of every member,
	// after its LogSM is registered and before the node starts, to
	// register more state machines (a resource store, a kv store) on it.
	// An error fails the start.
	Register func(id string, n *node.Node) error
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	def(&o.HeartbeatTimeout, 300*time.Millisecond)
	def(&o.ElectionTimeout, 300*time.Millisecond)
	def(&o.LeaderTimeout, 5*time.Second)
	def(&o.ApplyTimeout, 5*time.Second)
	def(&o.WaitTimeout, 30*time.Second)
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
}

// How a member forms or finds its cluster when its data dir is empty.
type joinMode int

const (
	modeInitial joinMode = iota // one of the initial voters
	modeJoin                    // asks the live members to add it
	modeWait                    // waits to be added
)

// Member is one node of a Cluster across its restarts.
type Member struct {
	ID   string
	Addr string // peer address, the same across restarts
	Dir  string // data dir, the same across restarts
	mode joinMode
	join []string

	node *node.Node // nil while down
	sm   *LogSM
}

// Cluster is a set of node.Nodes in one process, on one fault-injecting
// Network, each registering a LogSM under node.TypeUser.
type Cluster struct {
	t       testing.TB
	opts    Options
	Net     *Network
	logger  *slog.Logger
	initial []node.Peer

	mu      sync.Mutex
	members map[string]*Member
	root    string // parent of the members' data dirs
}

// New starts a cluster of opts.Nodes voters named n1, n2, ... formed with an
// initial cluster list. Every node is stopped when the test ends.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	opts.setDefaults()
	c := &Cluster{t: t, opts: opts, Net: NewNetwork(opts.Seed), logger: NewLogger(t), members: map[string]*Member{}}
	t.Logf("testcluster: %d nodes, seed %d", opts.Nodes, opts.Seed)
	// The data dirs live under one temp dir made before stopAll is
	// registered, so (cleanups run last-in first-out) the nodes stop
	// before their data dirs are removed.
	c.root = t.TempDir()
	t.Cleanup(c.stopAll)
	for i := 1; i <= opts.Nodes; i++ {
		m := c.newMember(fmt.Sprintf("n%d", i), modeInitial, nil)
		c.initial = append(c.initial, node.Peer{ID: m.ID, Addr: m.Addr})
	}
	for _, id := range c.IDs() {
		if err := c.start(c.member(id)); err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
	}
	return c
}

func (c *Cluster) newMember(id string, mode joinMode, join []string) *Member {
	c.t.Helper()
	addr, err := c.Net.Reserve(id)
	if err != nil {
		c.t.Fatalf("reserve address for %s: %v", id, err)
	}
	dir, err := os.MkdirTemp(c.root, id+"-")
	if err != nil {
		c.t.Fatalf("data dir for %s: %v", id, err)
	}
	m := &Member{ID: id, Addr: addr, Dir: dir, mode: mode, join: join}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.members[id]; dup {
		c.t.Fatalf("testcluster: member %s already exists", id)
	}
	c.members[id] = m
	return m
}

// Config returns the node config the cluster uses for member id.
func (c *Cluster) config(m *Member) node.Config {
	o := c.opts
	cfg := node.Config{
		ID: m.ID, DataDir: m.Dir, PeerAddr: m.Addr,
		LeaderTimeout: o.LeaderTimeout, ApplyTimeout: o.ApplyTimeout, CommitRetries: o.CommitRetries,
		HeartbeatTimeout: o.HeartbeatTimeout, ElectionTimeout: o.ElectionTimeout,
		SnapshotThreshold: o.SnapshotThreshold, SnapshotInterval: o.SnapshotInterval, TrailingLogs: o.TrailingLogs,
		Logger:  c.logger,
		Network: c.Net.Endpoint(m.ID),
	}
	switch m.mode {
	case modeInitial:
		cfg.InitialCluster = slices.Clone(c.initial)
	case modeJoin:
		cfg.Join = slices.Clone(m.join)
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	return cfg
}

// start runs a new incarnation of m on its data dir.
func (c *Cluster) start(m *Member) error {
	n, err := node.New(c.config(m))
	if err != nil {
		return err
	}
	sm := &LogSM{}
	if err := n.Register(node.TypeUser, sm); err != nil {
		n.Shutdown()
		return err
	}
	if c.opts.Register != nil {
		if err := c.opts.Register(m.ID, n); err != nil {
			n.Shutdown()
			return fmt.Errorf("register state machines on %s: %w", m.ID, err)
		}
	}
	if err := n.Start(); err != nil {
		return err
	}
	c.mu.Lock()
	m.node, m.sm = n, sm
	c.mu.Unlock()
	return nil
}

func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, m := range c.live() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.sm.Unblock()
			m.node.Crash()
		}()
	}
	wg.Wait()
}

func (c *Cluster) member(id string) *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[id]
	if m == nil {
		c.t.Fatalf("testcluster: no member %s", id)
	}
	return m
}

// live returns the running members, sorted by id.
func (c *Cluster) live() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ms []*Member
	for _, m := range c.members {
		if m.node != nil {
			ms = append(ms, m)
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	return ms
}

// IDs returns the ids of all members, running or not, sorted.
func (c *Cluster) IDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id := range c.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// LiveIDs returns the ids of the running members, sorted.
func (c *Cluster) LiveIDs() []string {
	var ids []string
	for _, m := range c.live() {
		ids = append(ids, m.ID)
	}
	return ids
}

// Member returns member id.
func (c *Cluster) Member(id string) *Member { return c.member(id) }

// Node returns the running node of member id; it fails the test if the
// member is down.
func (c *Cluster) Node(id string) *node.Node {
	m := c.member(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.node == nil {
		c.t.Fatalf("testcluster: %s is not running", id)
	}
	return m.node
}

// Running returns the node of member id, or nil if it is down. Unlike Node
// it may be called from any goroutine.
func (c *Cluster) Running(id string) *node.Node {
	m := c.member(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	return m.node
}

// SM returns the state machine of member id's current (or last) incarnation.
func (c *Cluster) SM(id string) *LogSM {
	m := c.member(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	return m.sm
}

// Partition cuts every link between the groups (see Network.Partition).
func (c *Cluster) Partition(groups ...[]string) { c.Net.Partition(groups...) }

// Isolate cuts id off from every other node.
func (c *Cluster) Isolate(id string) { c.Net.Isolate(id) }

// Heal removes every network fault.
func (c *Cluster) Heal() { c.Net.Heal() }

// SetDrop sets the loss probability of the link from -> to (either may be Any).
func (c *Cluster) SetDrop(from, to string, p float64) { c.Net.SetDrop(from, to, p) }

// SetDelay sets the latency of the link from -> to (either may be Any).
func (c *Cluster) SetDelay(from, to string, base, jitter time.Duration) {
	c.Net.SetDelay(from, to, Delay{Base: base, Jitter: jitter})
}

// take marks m down and returns its node.
func (c *Cluster) take(id string) *node.Node {
	m := c.member(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	n := m.node
	if n == nil {
		c.t.Fatalf("testcluster: %s is not running", id)
	}
	m.node = nil
	m.sm.Unblock() // a blocked Apply would hold up the shutdown
	return n
}

// Crash stops id as if its process died: no leadership transfer, its
// connections are cut, and only what it fsynced survives.
func (c *Cluster) Crash(id string) {
	c.t.Helper()
	n := c.take(id)
	if err := n.Crash(); err != nil {
		c.t.Logf("crash %s: %v", id, err)
	}
	c.Net.CloseConns(id)
}

// Stop shuts id down gracefully (a leader hands over leadership first).
func (c *Cluster) Stop(id string) {
	c.t.Helper()
	n := c.take(id)
	if err := n.Shutdown(); err != nil {
		c.t.Errorf("shutdown %s: %v", id, err)
	}
	c.Net.CloseConns(id)
}

// Restart starts a stopped or crashed member again on its data dir and
// address. It fails the test if the node does not start.
func (c *Cluster) Restart(id string) {
	c.t.Helper()
	if err := c.TryRestart(id); err != nil {
		c.t.Fatalf("restart %s: %v", id, err)
	}
}

// TryRestart is Restart returning the error of node.New or node.Start, or
// a timeout error if they did not return within the wait timeout (a node
// whose data dir is still locked by its previous incarnation hangs).
func (c *Cluster) TryRestart(id string) error {
	m := c.member(id)
	if c.Running(id) != nil {
		return fmt.Errorf("testcluster: %s is running", id)
	}
	done := make(chan error, 1)
	go func() { done <- c.start(m) }()
	select {
	case err := <-done:
		return err
	case <-time.After(c.opts.WaitTimeout):
		return fmt.Errorf("testcluster: %s did not start within %s", id, c.opts.WaitTimeout)
	}
}

// Add starts a new, empty member that asks the running members to add it as
// a voter (node.Config.Join).
func (c *Cluster) Add(id string) *Member {
	c.t.Helper()
	var join []string
	for _, m := range c.live() {
		join = append(join, m.Addr)
	}
	return c.add(id, modeJoin, join)
}

// AddIdle starts a new, empty member that waits to be added (with AddVoter
// or AddNonVoter called on a member).
func (c *Cluster) AddIdle(id string) *Member {
	c.t.Helper()
	return c.add(id, modeWait, nil)
}

func (c *Cluster) add(id string, mode joinMode, join []string) *Member {
	c.t.Helper()
	m := c.newMember(id, mode, join)
	if err := c.start(m); err != nil {
		c.t.Fatalf("start %s: %v", id, err)
	}
	return m
}

// WaitFor polls cond until it holds, failing the test with what after
// timeout.
func (c *Cluster) WaitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("testcluster: timed out after %s waiting for %s", timeout, what)
	}
}

func poll(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timeout")
		}
		time.Sleep(delay)
	}
}

// Leader returns the id of the running node that leads with the highest
// term, or "" if none does.
func (c *Cluster) Leader() string {
	best, term := "", uint64(0)
	for _, m := range c.live() {
		if s := m.node.Status(); s.State == "Leader" && s.Term >= term {
			best, term = m.ID, s.Term
		}
	}
	return best
}

// WaitLeader waits until a running node leads and every running node that
// can reach it agrees on it (a node cut off from it may not), and returns
// its id.
func (c *Cluster) WaitLeader(t testing.TB, timeout time.Duration) string {
	t.Helper()
	return c.WaitLeaderAmong(t, timeout, c.LiveIDs()...)
}

// WaitLeaderAmong waits until one of ids leads and all of ids that are
// running know it as the leader, and returns its id.
func (c *Cluster) WaitLeaderAmong(t testing.TB, timeout time.Duration, ids ...string) string {
	t.Helper()
	var leader string
	c.WaitFor(t, timeout, func() bool {
		leader = ""
		for _, id := range ids {
			n := c.Running(id)
			if n == nil {
				continue
			}
			lid, _, err := n.Leader()
			if err != nil || (leader != "" && lid != leader) || !slices.Contains(ids, lid) {
				return false
			}
			leader = lid
		}
		if leader == "" {
			return false
		}
		n := c.Running(leader)
		return n != nil && n.IsLeader()
	}, "a leader among "+strings.Join(ids, ","))
	return leader
}

// WaitApplied waits until every running node applied index.
func (c *Cluster) WaitApplied(t testing.TB, index uint64) {
	t.Helper()
	c.WaitFor(t, c.opts.WaitTimeout, func() bool {
		for _, m := range c.live() {
			if m.node.AppliedIndex() < index {
				return false
			}
		}
		return true
	}, fmt.Sprintf("every running node to apply index %d", index))
}

// EnsureSame waits until every running node applied the same log prefix and
// checks that their state machines hold the identical command sequence.
func (c *Cluster) EnsureSame(t testing.TB) {
	t.Helper()
	var diff string
	err := poll(c.opts.WaitTimeout, func() bool {
		diff = c.diff()
		return diff == ""
	})
	if err != nil {
		t.Fatalf("testcluster: nodes did not converge within %s: %s", c.opts.WaitTimeout, diff)
	}
}

// diff describes how the running nodes differ, or returns "".
func (c *Cluster) diff() string {
	ms := c.live()
	if len(ms) == 0 {
		return ""
	}
	var target uint64
	for _, m := range ms {
		target = max(target, m.node.Status().CommitIndex)
	}
	ref := ms[0]
	refCmds := ref.sm.Commands()
	for _, m := range ms {
		if a := m.node.AppliedIndex(); a < target {
			return fmt.Sprintf("%s applied %d of commit index %d", m.ID, a, target)
		}
	}
	for _, m := range ms[1:] {
		if ai, bi := ref.node.AppliedIndex(), m.node.AppliedIndex(); ai != bi {
			return fmt.Sprintf("%s applied %d, %s applied %d", ref.ID, ai, m.ID, bi)
		}
		cmds := m.sm.Commands()
		for i := range max(len(cmds), len(refCmds)) {
			if i >= len(cmds) || i >= len(refCmds) || cmds[i] != refCmds[i] {
				return fmt.Sprintf("%s (%d commands) and %s (%d commands) differ at command %d: %q vs %q",
					ref.ID, len(refCmds), m.ID, len(cmds), i, at(refCmds, i), at(cmds, i))
			}
		}
	}
	return ""
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<none>"
}

// Apply applies cmd through node id with the cluster's wait timeout.
func (c *Cluster) Apply(id, cmd string) (node.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.WaitTimeout)
	defer cancel()
	return c.Node(id).Apply(ctx, node.TypeUser, []byte(cmd))
}

// MustApply is Apply failing the test on error.
func (c *Cluster) MustApply(t testing.TB, id, cmd string) node.Result {
	t.Helper()
	res, err := c.Apply(id, cmd)
	if err != nil {
		t.Fatalf("apply %q through %s: %v", cmd, id, err)
	}
	return res
}
