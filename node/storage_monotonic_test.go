package node

import (
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/concord-db/concord/node/wal"
)

// TestStorageLogIsMonotonic: whatever wraps the log store, raft still sees
// node/wal as a MonotonicLogStore (its snapshot restores depend on it).
func TestStorageLogIsMonotonic(t *testing.T) {
	s, err := openStorage(t.TempDir(), "n1", 2, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.log.Close()
	if _, isWAL := s.log.(spaceWatchedLog).logStore.(*wal.Log); !isWAL {
		t.Fatalf("a new data dir's log store is %T, want node/wal", s.log.(spaceWatchedLog).logStore)
	}
	m, ok := s.log.(raft.MonotonicLogStore)
	if !ok || !m.IsMonotonic() {
		t.Fatalf("the log store %T does not tell raft it is monotonic", s.log)
	}
}
