package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"
)

// DurableStateMachine is implemented by a state machine that keeps its
// state on disk and records, in the same atomic write as each Apply, the
// index of the entry it applied (sqlstore keeps it in the database file).
// Such a state machine survives a restart without a snapshot restore: at
// start the node hands it the newest snapshot's section only when its own
// state is older than that snapshot (or missing), and otherwise leaves the
// file as it is and lets the log tail replay, which it skips up to its
// applied index. Restart time then does not grow with the size of the
// state. In-memory state machines (kv) are restored at every start, as
// before.
//
// It must also be a BatchApplier (Register refuses it otherwise): the node
// hands it all of its commands in an entry in one ApplyBatch call, after
// the entry's other commands, so it sees each index once, and an index at
// or below its applied index is a replay. Plain Apply may see one index
// several times.
//
// A snapshot installed from the leader, a Rollback and `concord snapshot
// restore` still call Restore (or RestoreRollback), which must replace the
// whole state, whatever its applied index.
type DurableStateMachine interface {
	// AppliedIndex returns the index of the last log entry whose effects
	// the durable state holds (0 when empty). After a crash it must not
	// report an index whose effects were lost: it is read from the same
	// durable write as those effects. The node calls it once at start,
	// before any Apply or Restore.
	AppliedIndex() uint64

	// MarkApplied records durably that the state is current up to index:
	// no entry of this state machine lies between its applied index and
	// index. The node calls it, on the apply goroutine, just before it
	// snapshots the state machines at index and after it restored a
	// snapshot of index, so that the next start compares like with like
	// even when this state machine's own last entry is older than the
	// snapshot. An index at or below the applied index changes nothing.
	MarkApplied(index uint64) error
}

// errStopSections ends a forEachSection walk early, once no later section
// is needed.
var errStopSections = errors.New("no further section needed")

// restoreAtStart brings the state machines to the newest local snapshot
// before raft starts (raft itself runs with NoSnapshotRestoreOnStart, so
// that it does not replace a durable state machine's file on every start).
// The node's section and every in-memory state machine are restored; a
// DurableStateMachine whose AppliedIndex is at or past the snapshot's index
// is left alone, and the stream is not read past the last section anybody
// needs. raft then replays the log after the snapshot's index.
func (f *fsm) restoreAtStart(meta *raft.SnapshotMeta, rc io.Reader) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	start := time.Now()
	br := bufio.NewReaderSize(rc, chunkSize)
	h, err := ReadSnapshotHeader(br)
	if err != nil {
		return err
	}
	// The header's index is the state machines' applied index when the
	// snapshot was taken; raft's own (meta.Index) may be past it by
	// entries that never reach them (no-ops, barriers).
	at := min(h.Index, meta.Index)
	need := map[Type]bool{}
	for t, sm := range f.machines {
		if d, ok := sm.(DurableStateMachine); ok {
			if applied := d.AppliedIndex(); applied >= at {
				f.logger.Info("state machine is current on disk: snapshot restore skipped",
					"type", t, "applied", applied, "snapshot_index", at)
				continue
			}
		}
		need[t] = true
	}
	restored := map[Type]bool{}
	err = forEachSection(br, func(t Type, r io.Reader) error {
		if t == typeNode {
			return f.restoreNode(r)
		}
		sm := f.machines[t]
		if sm == nil {
			return fmt.Errorf("%w %d in snapshot (is this binary too old?)", ErrUnknownType, t)
		}
		if !need[t] {
			if !neededAfter(need, t) {
				return errStopSections
			}
			return nil // forEachSection reads past it
		}
		restored[t] = true
		return sm.Restore(r)
	})
	if err != nil && !errors.Is(err, errStopSections) {
		return err
	}
	for _, t := range sortedTypes(f.machines) {
		if need[t] && !restored[t] {
			if err := f.machines[t].Restore(eofReader{}); err != nil {
				return fmt.Errorf("reset of state machine %d: %w", t, err)
			}
		}
	}
	if err := f.markDurable(meta.Index, need); err != nil {
		return err
	}
	f.lastTerm = meta.Term
	f.applied.set(meta.Index)
	f.metrics.snapshotDone(snapStart, time.Since(start), meta.Size)
	return nil
}

// neededAfter reports whether a section after t still has to be restored.
func neededAfter(need map[Type]bool, t Type) bool {
	for u := range need {
		if u > t {
			return true
		}
	}
	return false
}

// markDurable calls MarkApplied(index) on each durable state machine in
// only (every one when only is nil).
func (f *fsm) markDurable(index uint64, only map[Type]bool) error {
	for _, t := range sortedTypes(f.machines) {
		d, ok := f.machines[t].(DurableStateMachine)
		if !ok || (only != nil && !only[t]) {
			continue
		}
		if err := d.MarkApplied(index); err != nil {
			return fmt.Errorf("state machine %d: record applied index %d: %w", t, index, err)
		}
	}
	return nil
}

// restoreLatestSnapshot runs restoreAtStart with the newest snapshot in the
// data dir, if there is one. A snapshot that cannot be read fails the
// start: raft takes its index as applied, so falling back to an older
// snapshot would skip the entries between the two.
func (n *Node) restoreLatestSnapshot() error {
	list, err := n.store.snapshots.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	if len(list) == 0 {
		return nil
	}
	meta := list[0]
	rc, err := n.store.openSnapshotState(meta.ID)
	if err != nil {
		return fmt.Errorf("open snapshot %s: %w", meta.ID, err)
	}
	defer rc.Close()
	if err := n.fsm.restoreAtStart(meta, rc); err != nil {
		return fmt.Errorf("restore snapshot %s: %w", meta.ID, err)
	}
	n.logger.Info("restored state from snapshot at start", "id", meta.ID, "index", meta.Index, "term", meta.Term)
	return nil
}
