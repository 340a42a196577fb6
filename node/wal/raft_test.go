package wal

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// raftNode is one raft peer over an in-memory transport, with its log in
// a Log and its snapshots in files, both in dir.
type raftNode struct {
	t       *testing.T
	id      raft.ServerID
	dir     string
	log     *Log
	store   *recordingStore
	trans   *raft.InmemTransport
	fsm     *listFSM
	raft    *raft.Raft
	conf    *raft.Config
	peerSet []*raftNode
}

// recordingStore counts the tail deletions raft asks for, to show a test
// exercised them.
type recordingStore struct {
	*Log
	mu        sync.Mutex
	tailCuts  int
	headCuts  int
	deleteAll int
}

func (s *recordingStore) DeleteRange(lo, hi uint64) error {
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	s.mu.Lock()
	switch {
	case lo <= first && hi >= last:
		s.deleteAll++
	case lo <= first:
		s.headCuts++
	default:
		s.tailCuts++
	}
	s.mu.Unlock()
	return s.Log.DeleteRange(lo, hi)
}

// listFSM keeps every command it applied, in order.
type listFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return len(f.cmds)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return listSnapshot(strings.Join(f.cmds, "\n")), nil
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = nil
	if len(b) > 0 {
		f.cmds = strings.Split(string(b), "\n")
	}
	return nil
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmds)
}

type listSnapshot string

func (s listSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := io.WriteString(sink, string(s)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (listSnapshot) Release() {}

func raftConfig(t *testing.T, id raft.ServerID, trailing uint64, timeout time.Duration) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = timeout, timeout, timeout
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotThreshold, c.SnapshotInterval, c.TrailingLogs = 64, 20*time.Millisecond, trailing
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: string(id), Level: hclog.Warn, Output: testWriter{t}})
	return c
}

// startCluster starts n bootstrapped peers with raft's heartbeat,
// election and lease timeouts set to timeout.
func startCluster(t *testing.T, n int, trailing uint64, timeout time.Duration) []*raftNode {
	var nodes []*raftNode
	var servers []raft.Server
	for i := range n {
		id := raft.ServerID(fmt.Sprintf("n%d", i+1))
		nd := &raftNode{t: t, id: id, dir: t.TempDir(), conf: raftConfig(t, id, trailing, timeout)}
		nodes = append(nodes, nd)
		servers = append(servers, raft.Server{ID: id, Address: raft.ServerAddress(id)})
	}
	for _, nd := range nodes {
		nd.peerSet = nodes
		nd.openLog()
		if err := raft.BootstrapCluster(nd.conf, nd.store, nd.log, nd.snapshots(), nd.trans,
			raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
	}
	for _, nd := range nodes {
		nd.start()
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.stop()
		}
	})
	return nodes
}

func (nd *raftNode) openLog() {
	l, err := Open(filepath.Join(nd.dir, "wal"), testOptions(nd.t, 4<<10))
	if err != nil {
		nd.t.Fatal(err)
	}
	nd.log, nd.store = l, &recordingStore{Log: l}
	_, nd.trans = raft.NewInmemTransport(raft.ServerAddress(nd.id))
	for _, p := range nd.peerSet {
		if p != nd && p.trans != nil {
			nd.trans.Connect(p.trans.LocalAddr(), p.trans)
			p.trans.Connect(nd.trans.LocalAddr(), nd.trans)
		}
	}
}

func (nd *raftNode) snapshots() raft.SnapshotStore {
	s, err := raft.NewFileSnapshotStore(nd.dir, 2, io.Discard)
	if err != nil {
		nd.t.Fatal(err)
	}
	return s
}

func (nd *raftNode) start() {
	nd.fsm = &listFSM{}
	r, err := raft.NewRaft(nd.conf, nd.fsm, nd.store, nd.log, nd.snapshots(), nd.trans)
	if err != nil {
		nd.t.Fatal(err)
	}
	nd.raft = r
}

// stop shuts raft down and closes the log, as a process exit would.
func (nd *raftNode) stop() {
	if nd.raft == nil {
		return
	}
	if err := nd.raft.Shutdown().Error(); err != nil {
		nd.t.Error(err)
	}
	nd.raft = nil
	if err := nd.log.Close(); err != nil {
		nd.t.Error(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func leaderOf(t *testing.T, nodes []*raftNode) *raftNode {
	t.Helper()
	var leader *raftNode
	waitFor(t, "a leader", func() bool {
		for _, nd := range nodes {
			if nd.raft != nil && nd.raft.State() == raft.Leader {
				leader = nd
				return true
			}
		}
		return false
	})
	return leader
}

// applyN applies n commands named prefix-i through whichever node leads
// and returns their names. A command retried after a leader change may be
// applied twice; waitSame allows for that.
func applyN(t *testing.T, nodes []*raftNode, prefix string, n int) []string {
	t.Helper()
	var names []string
	for i := 0; i < n; {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if err := leaderOf(t, nodes).raft.Apply([]byte(name), time.Second).Error(); err != nil {
			continue // leadership moved: retry on the new leader
		}
		names = append(names, name)
		i++
	}
	return names
}

// waitSame waits until every node applied the same sequence of commands
// and it holds each of want.
func waitSame(t *testing.T, nodes []*raftNode, want ...[]string) {
	t.Helper()
	var all []string
	for _, w := range want {
		all = append(all, w...)
	}
	waitFor(t, fmt.Sprintf("the same %d commands on every node", len(all)), func() bool {
		ref := nodes[0].fsm.list()
		for _, nd := range nodes[1:] {
			if !slices.Equal(nd.fsm.list(), ref) {
				return false
			}
		}
		for _, c := range all {
			if !slices.Contains(ref, c) {
				return false
			}
		}
		return true
	})
}

// TestRaftRestartCatchesUp runs three raft peers, each on its own Log,
// stops a follower, writes on, restarts the follower on its log and checks
// it catches up: from the leader's log, or, with few trailing logs, from a
// snapshot (raft then empties the follower's log, since it is monotonic).
func TestRaftRestartCatchesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		trailing uint64
	}{{"from the log", 10240}, {"from a snapshot", 16}} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startCluster(t, 3, tc.trailing, 50*time.Millisecond)
			a := applyN(t, nodes, "a", 200)
			waitSame(t, nodes, a)

			leader := leaderOf(t, nodes)
			follower := nodes[0]
			if follower == leader {
				follower = nodes[1]
			}
			follower.stop()
			b := applyN(t, nodes, "b", 300)

			follower.openLog()
			follower.start()
			c := applyN(t, nodes, "c", 50)
			waitSame(t, nodes, a, b, c)

			s := follower.store
			s.mu.Lock() // raft's snapshot goroutine may still compact the log
			headCuts, deleteAll := s.headCuts, s.deleteAll
			s.mu.Unlock()
			t.Logf("%s: %d head deletions, %d whole-log deletions", follower.id, headCuts, deleteAll)
			if tc.trailing < 100 && deleteAll == 0 {
				t.Fatal("the follower caught up without a snapshot install")
			}
			// The restarted follower's log matches the leader's where both have entries.
			compareLogs(t, leaderOf(t, nodes).log, follower.log)
		})
	}
}

// TestRaftConflictingTail isolates a leader that keeps appending entries
// no one else sees; the others elect a new leader and write on; when the
// old leader returns, raft deletes its conflicting tail (the operation
// raft-wal v0.4.0 broke). It must then hold the new leader's log, before
// and after a restart.
func TestRaftConflictingTail(t *testing.T) {
	// The isolated leader appends until its lease runs out: give it time.
	nodes := startCluster(t, 3, 10240, 300*time.Millisecond)
	a := applyN(t, nodes, "a", 50)
	waitSame(t, nodes, a)

	old := leaderOf(t, nodes)
	before, _ := old.log.LastIndex()
	old.trans.DisconnectAll()
	for _, nd := range nodes {
		if nd != old {
			nd.trans.Disconnect(old.trans.LocalAddr())
		}
	}
	for i := range 20 {
		old.raft.Apply(fmt.Appendf(nil, "lost-%d", i), 0) // never committed
	}
	waitFor(t, "the isolated leader to append", func() bool { last, _ := old.log.LastIndex(); return last > before })

	var rest []*raftNode
	for _, nd := range nodes {
		if nd != old {
			rest = append(rest, nd)
		}
	}
	b := applyN(t, rest, "b", 30)

	for _, nd := range rest {
		old.trans.Connect(nd.trans.LocalAddr(), nd.trans)
		nd.trans.Connect(old.trans.LocalAddr(), old.trans)
	}
	waitSame(t, nodes, a, b)
	old.store.mu.Lock()
	cuts := old.store.tailCuts
	old.store.mu.Unlock()
	if cuts == 0 {
		t.Fatal("the old leader never deleted its conflicting tail")
	}
	leader := leaderOf(t, nodes)
	compareLogs(t, leader.log, old.log)

	old.stop()
	old.openLog()
	compareLogs(t, leader.log, old.log)
	old.start()
	c := applyN(t, nodes, "c", 10)
	waitSame(t, nodes, a, b, c)
	if slices.ContainsFunc(old.fsm.list(), func(c string) bool { return strings.HasPrefix(c, "lost-") }) {
		t.Fatal("an uncommitted entry of the isolated leader was applied")
	}
}

// compareLogs checks that b holds the same entries as a wherever both
// have one.
func compareLogs(t *testing.T, a, b *Log) {
	t.Helper()
	af, _ := a.FirstIndex()
	al, _ := a.LastIndex()
	bf, _ := b.FirstIndex()
	bl, _ := b.LastIndex()
	for i := max(af, bf); i <= min(al, bl) && i != 0; i++ {
		var ea, eb raft.Log
		if err := a.GetLog(i, &ea); err != nil {
			continue // compacted meanwhile
		}
		if err := b.GetLog(i, &eb); err != nil {
			continue
		}
		if ea.Term != eb.Term || ea.Type != eb.Type || !bytes.Equal(ea.Data, eb.Data) {
			t.Fatalf("entry %d differs: %+v vs %+v", i, ea, eb)
		}
	}
}
