package node

import "github.com/hashicorp/raft"

// IsMonotonic passes raft.MonotonicLogStore through the wrapper: raft
// must know that node/wal refuses gaps, or a snapshot restore (a
// Rollback, an install) appends past the log's end instead of resetting
// it and fails with "entries not contiguous".
func (l spaceWatchedLog) IsMonotonic() bool {
	m, ok := l.logStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
