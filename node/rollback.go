package node

import (
	"bufio"
	"bytes"
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
// stream is spooled to a temporary file in the data dir and then handed to
// RollbackFile. Only the leader can roll back.
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
	if _, err := io.Copy(tmp, r); err != nil {
		return fmt.Errorf("rollback: spool: %w", err)
	}
	return n.RollbackFile(ctx, tmp)
}

// RollbackFile is Rollback from a state.bin file that is already on disk
// (the snapshot package's verified spool), so it is not copied once more
// before raft takes it. f is read from its start and not closed.
//
// The file is checked whole first (structure, every checksum, only state
// machines this node knows), so a bad stream leaves the running state
// untouched. The node's own section is rewritten on the way in: the
// snapshot's sessions are kept, but the cluster metadata (cluster id,
// members' client addresses, removed members) is the live cluster's, as
// raft keeps the live configuration: restoring another cluster's backup
// (or an old one of this cluster) changes the data, never who the members
// are or how to reach them.
func (n *Node) RollbackFile(ctx context.Context, f *os.File) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	plan, err := n.planRollback(f)
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if _, err := f.Seek(plan.restOffset, io.SeekStart); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	size := int64(len(plan.head)) + plan.fileSize - plan.restOffset
	// raft installs a user snapshot at max(its last index, meta.Index)+1 in
	// the current term. Give it an index past anything the log can reach
	// meanwhile and write the same index and term into the header, which
	// is what every node's state machines report as applied once they
	// installed it (raft does not pass its own index to FSM.Restore).
	below := n.raft.LastIndex() + rollbackIndexGap
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: size, Index: below}
	var hdr bytes.Buffer
	if err := writeSnapshotHeader(&hdr, SnapshotHeader{Version: plan.header.Version, Index: below + 1, Term: n.raft.CurrentTerm()}); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	copy(plan.head, hdr.Bytes())
	r := io.MultiReader(bytes.NewReader(plan.head), f)
	if err := n.raft.Restore(meta, r, n.cfg.ApplyTimeout); err != nil {
		return fmt.Errorf("rollback: %w", mapRaftError(err))
	}
	n.logger.Warn("state rolled back to a snapshot", "bytes", size, "snapshot_index", plan.header.Index)
	// A command (not a raft barrier, which never reaches the state
	// machines) after the restore: once it applies everywhere the applied
	// index meets the commit index again, so ReadBarrier does not wait for
	// the next write; it also republishes this member's client address.
	if _, err := n.Apply(ctx, typeNode, encodeSetMember(n.cfg.ID, memberMeta{ClientAddr: n.cfg.ClientAddr})); err != nil {
		return fmt.Errorf("rollback: restored, but the command after it failed: %w", err)
	}
	return nil
}

// rollbackIndexGap is the hole left in the log indexes by a rollback.
const rollbackIndexGap = 1 << 16

// rollbackPlan is what RollbackFile hands raft: head (the header and the
// rewritten node section), then the file from restOffset to its end.
type rollbackPlan struct {
	header     SnapshotHeader
	head       []byte
	restOffset int64
	fileSize   int64
}

// planRollback scans f whole and builds the new head.
func (n *Node) planRollback(f *os.File) (*rollbackPlan, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	cr := &countReader{r: f}
	br := bufio.NewReaderSize(cr, chunkSize)
	h, err := ReadSnapshotHeader(br)
	if err != nil {
		return nil, err
	}
	p := &rollbackPlan{header: h}
	sess := newSessions()
	p.restOffset = cr.n - int64(br.Buffered())
	if b, err := br.Peek(1); err == nil && Type(b[0]) == typeNode {
		br.ReadByte()
		sr := newSectionReader(br)
		if sess, err = readSessions(bufio.NewReader(sr)); err != nil {
			return nil, fmt.Errorf("%w: node section: %w", ErrBadSnapshot, err)
		}
		if err := sr.drain(); err != nil {
			return nil, fmt.Errorf("node section: %w", err)
		}
		p.restOffset = cr.n - int64(br.Buffered())
	}
	n.fsm.mu.RLock()
	known := map[Type]StateMachine{}
	for t, sm := range n.fsm.machines {
		known[t] = sm
	}
	n.fsm.mu.RUnlock()
	err = forEachSection(br, func(t Type, r io.Reader) error {
		if t == typeNode {
			return fmt.Errorf("%w: node section out of place", ErrBadSnapshot)
		}
		sm := known[t]
		if sm == nil {
			return fmt.Errorf("%w %d in snapshot", ErrUnknownType, t)
		}
		// raft cannot undo a restore that fails halfway (it panics), so a
		// section its state machine would refuse must be refused here.
		if v, ok := sm.(SnapshotValidator); ok {
			if err := v.ValidateSnapshot(r); err != nil {
				return fmt.Errorf("%w: state machine %d refuses its section: %w", ErrBadSnapshot, t, err)
			}
			return nil
		}
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.fileSize = cr.n
	var head bytes.Buffer
	bw := bufio.NewWriter(&head)
	if err := writeSnapshotHeader(bw, h); err != nil {
		return nil, err
	}
	sw := newSectionWriter(bw, typeNode)
	meta := n.fsm.metaSnapshot().clone()
	meta.rollbacks++
	if err := errors.Join(sess.writeTo(sw), meta.writeTo(sw), sw.close(), bw.Flush()); err != nil {
		return nil, err
	}
	p.head = head.Bytes()
	return p, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// WriteSnapshot takes a snapshot of the current state (or reuses the latest
// one if nothing changed since) and streams its state.bin to w.
func (n *Node) WriteSnapshot(ctx context.Context, w io.Writer) (SnapshotHeader, error) {
	info, err := n.WriteSnapshotInfo(ctx, w)
	return info.SnapshotHeader, err
}

// SnapshotInfo describes a snapshot written by WriteSnapshotInfo.
type SnapshotInfo struct {
	SnapshotHeader
	// Configuration is the raft configuration stored with the snapshot: the
	// members at its index (ID, PeerAddr and Voter are set; ClientAddr when
	// the node knows it).
	Configuration []Member
}

// WriteSnapshotInfo is WriteSnapshot that also returns the configuration
// stored with the snapshot, which, unlike Members, is exactly the
// membership at the snapshot's index.
func (n *Node) WriteSnapshotInfo(ctx context.Context, w io.Writer) (SnapshotInfo, error) {
	var (
		meta *raft.SnapshotMeta
		rc   io.ReadCloser
	)
	f := n.raft.Snapshot()
	err := n.await(ctx, f)
	switch {
	case err == nil:
		meta, rc, err = f.Open()
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		meta, rc, err = n.openLatestSnapshot()
	}
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: %w", mapRaftError(err))
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: %w", err)
	}
	info := SnapshotInfo{SnapshotHeader: SnapshotHeader{Version: snapshotVersion, Index: meta.Index, Term: meta.Term}}
	cm := n.fsm.metaSnapshot()
	for _, s := range meta.Configuration.Servers {
		info.Configuration = append(info.Configuration, Member{ID: string(s.ID), PeerAddr: string(s.Address),
			ClientAddr: cm.members[string(s.ID)].ClientAddr, Voter: s.Suffrage == raft.Voter})
	}
	return info, nil
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
