package node

import "io"

// Type identifies the state machine a log entry belongs to. It is the first
// byte of every entry's envelope. Type 0 is reserved for the node itself.
type Type uint8

// Well-known state machine types. Applications embedding concord may register
// their own state machines with any type from TypeUser upwards.
const (
	TypeKV       Type = 1
	TypeResource Type = 2
	TypeSQL      Type = 3
	TypeAuth     Type = 4

	// TypeUser is the first type free for applications that embed the node.
	TypeUser Type = 64
)

// StateMachine is an application state machine replicated through the log.
//
// Apply, Snapshot and Restore are called from one goroutine, in log order.
// Snapshot's returned Snapshot.Persist runs concurrently with later Apply
// calls, so Snapshot must return a point-in-time view (a copy-on-write fork of
// the state), never a live reference.
type StateMachine interface {
	// Apply applies one committed command. index is the raft log index of
	// the entry that carried it; commands proposed together may share one
	// entry, so index never decreases but may repeat. Apply must be deterministic: it may
	// not read the clock, draw random numbers or depend on map iteration
	// order. The returned bytes are handed to whoever proposed the command
	// (possibly on another node, so they must be self-contained); errors that
	// are part of the state machine's semantics (a failed compare, a missing
	// key) are encoded in them.
	Apply(index uint64, cmd []byte) []byte

	// Snapshot returns a point-in-time view of the state. Apply is blocked
	// while it runs, so it must be cheap.
	Snapshot() (Snapshot, error)

	// Restore replaces the whole state with the one read from r, as written by
	// Snapshot.Persist. r yields io.EOF at the end of this state machine's
	// section. A state machine absent from a snapshot is restored from an empty
	// reader and must come up empty.
	Restore(r io.Reader) error
}

// BatchApplier is implemented by state machines that can apply at once the
// consecutive commands of one log entry that belong to them, which is
// cheaper than one Apply each (one copy of shared structure, one publish).
// ApplyBatch must leave the state, the results and every side effect exactly
// as calling Apply(index, cmd) for each command in order would. It returns
// one result per command. The node calls it with a run of consecutive
// commands, so one entry may take several calls at one index; a
// DurableStateMachine gets all of its commands in an entry in one call.
type BatchApplier interface {
	ApplyBatch(index uint64, cmds [][]byte) [][]byte
}

// Snapshot is a point-in-time view of a state machine.
type Snapshot interface {
	// Persist streams the state to w. It runs concurrently with Apply and must
	// not hold the whole state in one buffer.
	Persist(w io.Writer) error
	// Release is called when the snapshot is no longer needed.
	Release()
}

// RollbackRestorer is implemented by state machines that must know when a
// snapshot replaces the agreed state (a Rollback, on this node or on the
// leader while this node was behind) rather than catching this node up
// with it: RestoreRollback is then called instead of Restore. A kv store,
// for instance, cancels its watchers instead of resuming them on a history
// that is not the one they were watching.
type RollbackRestorer interface {
	RestoreRollback(r io.Reader) error
}

// SnapshotValidator is implemented by state machines that can check a
// snapshot section without installing it. Rollback validates every section
// before raft installs anything, because raft cannot undo a restore that
// fails halfway: a state machine without it must accept any section whose
// checksums hold.
type SnapshotValidator interface {
	// ValidateSnapshot reads a section as Restore would and reports whether
	// Restore would accept it, changing nothing.
	ValidateSnapshot(r io.Reader) error
}
