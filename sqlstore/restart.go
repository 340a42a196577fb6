package sqlstore

// Durability and restart.
//
// The raft log is the durability; the database file is a cache of the
// log's effects that survives restarts. It runs in WAL mode with
// synchronous=NORMAL: a commit does not wait for an fsync, so a power
// loss may lose the last transactions, but SQLite guarantees that the file
// stays consistent (it rolls back to an earlier commit). Every apply
// writes the entry's raft index into _concord_meta in the same
// transaction as the entry's effects, so the applied index read at Open
// always describes exactly what the file holds, whatever was lost.
//
// At start the node (node.DurableStateMachine) compares that index with
// the newest snapshot's: at or past it, the file is kept and only the log
// after the snapshot replays, Apply skipping what the file already holds;
// behind it (a lost write, an empty or a damaged file), the snapshot's
// section replaces the file first. A file SQLite reports as corrupt is
// moved aside at Open (recover.go) and the store starts empty.

// MarkApplied records that the database is current up to index: the node
// calls it when it snapshots or restores at index, and no entry of this
// store lies between the applied index and index
// (node.DurableStateMachine). It writes the index in its own small
// transaction; an index at or below the applied index changes nothing.
func (s *Store) MarkApplied(index uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if index <= s.applied {
		return nil
	}
	return s.recordIndexOnly(index)
}
