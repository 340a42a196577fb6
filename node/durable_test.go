package node_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
)

// disk is what a durableSM keeps across restarts: its commands and the
// index they are current to, changed together as one atomic write would.
type disk struct {
	mu      sync.Mutex
	applied uint64
	cmds    []string
}

func (d *disk) copy() *disk {
	d.mu.Lock()
	defer d.mu.Unlock()
	return &disk{applied: d.applied, cmds: slices.Clone(d.cmds)}
}

// durableSM is a node.DurableStateMachine over a disk that outlives the
// node: Apply skips entries the disk already holds, as sqlstore does.
type durableSM struct {
	d        *disk
	mu       sync.Mutex
	restores int
}

var (
	_ node.DurableStateMachine = (*durableSM)(nil)
	_ node.BatchApplier        = (*durableSM)(nil)
)

func (s *durableSM) Apply(index uint64, cmd []byte) []byte {
	return s.ApplyBatch(index, [][]byte{cmd})[0]
}

// ApplyBatch applies an entry's commands under its index, as one write; an
// entry the disk already holds is skipped.
func (s *durableSM) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	out := make([][]byte, len(cmds))
	for i, cmd := range cmds {
		out[i] = []byte("skipped")
		if index > s.d.applied {
			s.d.cmds = append(s.d.cmds, string(cmd))
			out[i] = []byte("ok")
		}
	}
	if len(cmds) > 0 {
		s.d.applied = max(s.d.applied, index)
	}
	return out
}

func (s *durableSM) AppliedIndex() uint64 {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.d.applied
}

func (s *durableSM) MarkApplied(index uint64) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.applied = max(s.d.applied, index)
	return nil
}

func (s *durableSM) Snapshot() (node.Snapshot, error) {
	c := s.d.copy()
	return durableSnap{c}, nil
}

func (s *durableSM) Restore(r io.Reader) error {
	s.mu.Lock()
	s.restores++
	s.mu.Unlock()
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err == io.EOF && line == "" {
		s.d.mu.Lock()
		s.d.applied, s.d.cmds = 0, nil
		s.d.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	idx, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return err
	}
	var cmds []string
	for {
		l, err := br.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		cmds = append(cmds, strings.TrimSuffix(l, "\n"))
	}
	s.d.mu.Lock()
	s.d.applied, s.d.cmds = idx, cmds
	s.d.mu.Unlock()
	return nil
}

func (s *durableSM) Restores() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restores
}

type durableSnap struct{ d *disk }

func (sn durableSnap) Persist(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "%d\n", sn.d.applied); err != nil {
		return err
	}
	for _, c := range sn.d.cmds {
		if _, err := fmt.Fprintf(w, "%s\n", c); err != nil {
			return err
		}
	}
	return nil
}

func (durableSnap) Release() {}

// durableNode is one incarnation of a one-node cluster with a durableSM
// (TypeUser) and an in-memory LogSM (TypeUser+1) on dir.
type durableNode struct {
	n   *node.Node
	dur *durableSM
	mem *testcluster.LogSM
}

func startDurableNode(t *testing.T, dir string, d *disk) *durableNode {
	t.Helper()
	cfg := node.DefaultConfig()
	addr := "127.0.0.1:0"
	if b, err := os.ReadFile(filepath.Join(dir, "test-addr")); err == nil {
		addr = string(b) // the address in the raft configuration
	}
	cfg.ID, cfg.DataDir, cfg.PeerAddr, cfg.Bootstrap = "n1", dir, addr, true
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
	cfg.Logger = testcluster.NewLogger(t)
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dn := &durableNode{n: n, dur: &durableSM{d: d}, mem: &testcluster.LogSM{}}
	if err := n.Register(node.TypeUser, dn.dur); err != nil {
		t.Fatal(err)
	}
	if err := n.Register(node.TypeUser+1, dn.mem); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test-addr"), []byte(n.PeerAddr()), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.Ready():
	case <-time.After(waitTimeout):
		t.Fatal("node not ready")
	}
	return dn
}

func (dn *durableNode) apply(t *testing.T, typ node.Type, cmds ...string) uint64 {
	t.Helper()
	var last uint64
	for _, c := range cmds {
		res, err := dn.n.Apply(ctxTimeout(t, waitTimeout), typ, []byte(c))
		if err != nil {
			t.Fatalf("apply %s: %v", c, err)
		}
		last = res.Index
	}
	return last
}

func (dn *durableNode) snapshot(t *testing.T) uint64 {
	t.Helper()
	h, err := dn.n.WriteSnapshot(ctxTimeout(t, waitTimeout), io.Discard)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return h.Index
}

func (dn *durableNode) crash(t *testing.T) {
	t.Helper()
	if err := dn.n.Crash(); err != nil {
		t.Logf("crash: %v", err)
	}
}

// TestDurableStateMachineRestart: at start, a durable state machine whose
// disk is at or past the newest snapshot is not restored (only the log tail
// replays, and it skips what it holds), one whose disk is older or empty
// is restored from the snapshot, and an in-memory one is restored every
// time. Every case ends with the same commands, each applied once.
func TestDurableStateMachineRestart(t *testing.T) {
	dir := t.TempDir()
	d := &disk{}
	dn := startDurableNode(t, dir, d)
	dn.apply(t, node.TypeUser, "a", "b", "c")
	early := d.copy() // the disk before the snapshot
	dn.apply(t, node.TypeUser, "d", "e")
	dn.apply(t, node.TypeUser+1, "m1", "m2")
	// The in-memory machine's entries come last: the durable one must
	// still be marked current at the snapshot's index.
	snapIdx := dn.snapshot(t)
	if got := d.copy().applied; got != snapIdx {
		t.Fatalf("durable applied index %d after the snapshot at %d: MarkApplied not called", got, snapIdx)
	}
	dn.apply(t, node.TypeUser, "f")
	dn.apply(t, node.TypeUser+1, "m3")
	dn.crash(t)
	want := "[a b c d e f]"
	wantMem := "[m1 m2 m3]"

	check := func(name string, dn *durableNode, wantRestores int) {
		t.Helper()
		dn.apply(t, node.TypeUser+1, "m-"+name) // the log is replayed once this applies
		if got := dn.dur.Restores(); got != wantRestores {
			t.Errorf("%s: durable state machine restored %d times at start, want %d", name, got, wantRestores)
		}
		if got := dn.mem.Restores(); got != 1 {
			t.Errorf("%s: in-memory state machine restored %d times at start, want 1", name, got)
		}
		if got := fmt.Sprint(dn.dur.d.copy().cmds); got != want {
			t.Errorf("%s: durable commands %s, want %s", name, got, want)
		}
		if got := fmt.Sprint(dn.mem.Commands()); got != strings.TrimSuffix(wantMem, "]")+" m-"+name+"]" {
			t.Errorf("%s: in-memory commands %s", name, got)
		}
		wantMem = strings.TrimSuffix(wantMem, "]") + " m-" + name + "]"
		dn.crash(t)
	}

	check("current", startDurableNode(t, dir, d), 0)
	check("older", startDurableNode(t, dir, early), 1)
	check("empty", startDurableNode(t, dir, &disk{}), 1)
	// The disk the "older" and "empty" starts rebuilt is current again.
	check("rebuilt", startDurableNode(t, dir, d), 0)
}

// TestDurableStateMachineInstall: a snapshot installed from the leader
// replaces a durable state machine whatever its applied index, and marks
// it current at the snapshot's index.
func TestDurableStateMachineInstall(t *testing.T) {
	dir := t.TempDir()
	d := &disk{}
	dn := startDurableNode(t, dir, d)
	defer dn.crash(t)
	dn.apply(t, node.TypeUser, "a", "b")
	var snap strings.Builder
	h, err := dn.n.WriteSnapshot(ctxTimeout(t, waitTimeout), &snap)
	if err != nil {
		t.Fatal(err)
	}
	dn.apply(t, node.TypeUser, "c")
	if err := dn.n.Rollback(ctxTimeout(t, waitTimeout), strings.NewReader(snap.String())); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if got := dn.dur.Restores(); got != 1 {
		t.Fatalf("rollback restored the durable state machine %d times, want 1", got)
	}
	if got := fmt.Sprint(d.copy().cmds); got != "[a b]" {
		t.Fatalf("after rollback: %s, want [a b]", got)
	}
	if got := d.copy().applied; got <= h.Index+1 {
		t.Fatalf("after rollback the durable applied index is %d, want the rollback's (past %d)", got, h.Index)
	}
}

// TestStartRefusesDamagedSnapshot: a newest snapshot that does not read
// back fails the start with an error naming it (raft would take its index
// as applied, so an older snapshot cannot stand in for it).
func TestStartRefusesDamagedSnapshot(t *testing.T) {
	dir := t.TempDir()
	dn := startDurableNode(t, dir, &disk{})
	dn.apply(t, node.TypeUser+1, "m1", "m2")
	dn.snapshot(t)
	dn.crash(t)
	states, err := filepath.Glob(filepath.Join(dir, "snapshots", "*", "state.bin"))
	if err != nil || len(states) != 1 {
		t.Fatalf("snapshots: %v %v", states, err)
	}
	b, err := os.ReadFile(states[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-8] ^= 0xFF // inside the last section's bytes or checksum
	if err := os.WriteFile(states[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	addr, _ := os.ReadFile(filepath.Join(dir, "test-addr"))
	cfg.ID, cfg.DataDir, cfg.PeerAddr, cfg.Bootstrap = "n1", dir, string(addr), true
	cfg.Logger = testcluster.NewLogger(t)
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Register(node.TypeUser, &durableSM{d: &disk{}})
	n.Register(node.TypeUser+1, &testcluster.LogSM{})
	err = n.Start()
	if err == nil {
		n.Crash()
		t.Fatal("started on a damaged snapshot")
	}
	if !errors.Is(err, node.ErrBadSnapshot) || !strings.Contains(err.Error(), filepath.Base(filepath.Dir(states[0]))) {
		t.Fatalf("start error %v: want ErrBadSnapshot naming the snapshot", err)
	}
	n.Crash()
}
