package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/raft"
)

// Rollback replaces the agreed state of every state machine with the
// state.bin stream r (as written by WriteSnapshot), through raft's user
// restore: the leader installs it and every follower converges to it. The
// stream is spooled to a temporary file and verified whole (structure,
// checksums, known state machines) before anything changes, so a bad stream
// leaves the running state untouched. Only the leader can roll back.
func (n *Node) Rollback(ctx context.Context, r io.Reader) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	tmp, err := os.CreateTemp(n.cfg.DataDir, "rollback-*.bin")
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	_, sections, err := ScanSnapshot(io.TeeReader(r, tmp))
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	n.fsm.mu.RLock()
	for _, s := range sections {
		if _, ok := n.fsm.machines[s.Type]; !ok && s.Type != typeNode {
			n.fsm.mu.RUnlock()
			return fmt.Errorf("rollback: %w %d in snapshot", ErrUnknownType, s.Type)
		}
	}
	n.fsm.mu.RUnlock()
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: size}
	if err := n.raft.Restore(meta, tmp, n.cfg.ApplyTimeout); err != nil {
		return fmt.Errorf("rollback: %w", mapRaftError(err))
	}
	n.logger.Warn("state rolled back to a snapshot", "bytes", size)
	if err := waitFuture(ctx, n.raft.Barrier(n.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("rollback: barrier: %w", mapRaftError(err))
	}
	return nil
}

// WriteSnapshot takes a snapshot of the current state (or reuses the latest
// one if nothing changed since) and streams its state.bin to w.
func (n *Node) WriteSnapshot(ctx context.Context, w io.Writer) (SnapshotHeader, error) {
	var (
		meta *raft.SnapshotMeta
		rc   io.ReadCloser
	)
	f := n.raft.Snapshot()
	err := waitFuture(ctx, f)
	switch {
	case err == nil:
		meta, rc, err = f.Open()
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		meta, rc, err = n.openLatestSnapshot()
	}
	if err != nil {
		return SnapshotHeader{}, fmt.Errorf("snapshot: %w", mapRaftError(err))
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return SnapshotHeader{}, fmt.Errorf("snapshot: %w", err)
	}
	return SnapshotHeader{Version: snapshotVersion, Index: meta.Index, Term: meta.Term}, nil
}

func (n *Node) openLatestSnapshot() (*raft.SnapshotMeta, io.ReadCloser, error) {
	list, err := n.store.snapshots.List()
	if err != nil {
		return nil, nil, err
	}
	if len(list) == 0 {
		return nil, nil, errors.New("no snapshot available")
	}
	return n.store.snapshots.Open(list[0].ID)
}
