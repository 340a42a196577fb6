package node

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/concord-db/concord/internal/syncwatch"
	"github.com/hashicorp/raft"
)

// watchedSink reports a snapshot to internal/syncwatch once raft's file
// snapshot store has made it durable: its sink's Close syncs state.bin and
// meta.json, renames the directory into place and syncs the snapshots
// directory before it returns. Only used while a test watches syncs
// (internal/lazyfs); the production path keeps raft's sink as it is.
type watchedSink struct {
	raft.SnapshotSink
	dir string // the snapshots directory
}

// Close fails when the watcher fails the sync (a simulated crash): raft
// then does not compact its log on the strength of this snapshot.
func (s watchedSink) Close() error {
	if err := s.SnapshotSink.Close(); err != nil {
		return err
	}
	if err := syncwatch.SyncedTree(filepath.Join(s.dir, s.ID())); err != nil {
		return err
	}
	return syncwatch.Synced(s.dir)
}

// watchSink wraps sink in a watchedSink when a test watches syncs.
func watchSink(sink raft.SnapshotSink, dir string) raft.SnapshotSink {
	if sink == nil || !syncwatch.Active() {
		return sink
	}
	return watchedSink{sink, dir}
}

// noteSynced reports a file or directory this package synced itself and
// returns the watcher's verdict.
func noteSynced(path string) error {
	if syncwatch.Active() {
		return syncwatch.Synced(path)
	}
	return nil
}

// syncDataDir makes the data dir's entries durable (snapshots/, which
// raft's snapshot store creates without syncing the data dir, and
// whatever else Open created): a power loss must not take the snapshot
// directory with it once snapshots in it are relied on.
func syncDataDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync data dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync data dir %s: %w", dir, err)
	}
	return noteSynced(dir)
}
