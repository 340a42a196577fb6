package testcluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/concord-db/concord/node"
)

// LogSM is a node.StateMachine that records every command it applies, in
// order, so tests can compare what each node applied. Apply returns the
// command's 1-based position in the list (uvarint). Its snapshot is the whole
// list.
type LogSM struct {
	mu        sync.Mutex
	cmds      []string
	lastIndex uint64
	restores  int
	snapshots int
	snapIndex uint64
	gate      chan struct{} // non-nil while Block is in force
	maxBatch  int
}

var (
	_ node.StateMachine = (*LogSM)(nil)
	_ node.BatchApplier = (*LogSM)(nil)
)

// Apply implements node.StateMachine. It waits while the machine is blocked.
func (s *LogSM) Apply(index uint64, cmd []byte) []byte {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = append(s.cmds, string(cmd))
	s.lastIndex = index
	return binary.AppendUvarint(nil, uint64(len(s.cmds)))
}

// ApplyBatch implements node.BatchApplier: the commands one by one, as Apply
// does, noting the largest batch.
func (s *LogSM) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	out := make([][]byte, len(cmds))
	for i, c := range cmds {
		out[i] = s.Apply(index, c)
	}
	s.mu.Lock()
	s.maxBatch = max(s.maxBatch, len(cmds))
	s.mu.Unlock()
	return out
}

// MaxBatch returns the most commands applied by one ApplyBatch call.
func (s *LogSM) MaxBatch() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxBatch
}

// Snapshot implements node.StateMachine.
func (s *LogSM) Snapshot() (node.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots++
	s.snapIndex = s.lastIndex
	return &logSnap{cmds: slices.Clone(s.cmds)}, nil
}

// Restore implements node.StateMachine. Malformed input is an error.
func (s *LogSM) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var cmds []string
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return errors.New("logsm: malformed snapshot")
		}
		cmds = append(cmds, string(b[k:k+int(n)]))
		b = b[k+int(n):]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = cmds
	s.restores++
	return nil
}

// Commands returns a copy of the applied commands, in order.
func (s *LogSM) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cmds)
}

// Len returns how many commands were applied.
func (s *LogSM) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cmds)
}

// Count returns how many times cmd was applied.
func (s *LogSM) Count(cmd string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.cmds {
		if c == cmd {
			n++
		}
	}
	return n
}

// Restores returns how many times the state was restored from a snapshot
// (a snapshot installed from the leader, a restart from a local snapshot, or
// a rollback).
func (s *LogSM) Restores() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restores
}

// Snapshots returns how many snapshots were taken and the log index of the
// last command applied before the latest one.
func (s *LogSM) Snapshots() (count int, lastIndex uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshots, s.snapIndex
}

// Block makes Apply wait until Unblock: the node's whole apply pipeline
// stalls at the next command for this machine, while raft keeps replicating.
func (s *LogSM) Block() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
}

// Unblock releases Apply.
func (s *LogSM) Unblock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

type logSnap struct{ cmds []string }

func (s *logSnap) Persist(w io.Writer) error {
	var buf []byte
	for _, c := range s.cmds {
		buf = binary.AppendUvarint(buf[:0], uint64(len(c)))
		buf = append(buf, c...)
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("logsm: %w", err)
		}
	}
	return nil
}

func (s *logSnap) Release() {}
