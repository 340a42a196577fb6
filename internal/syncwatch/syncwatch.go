// Package syncwatch is the one seam through which tests learn which files
// concord has made durable: every place that fsyncs or fdatasyncs a file or
// a directory concord writes (node/wal's log and stable store, the raft
// snapshot store through node, the node-id file, sqlstore's SQLite files
// through a VFS that wraps the default one) calls Synced after the sync
// succeeded and before anything that relies on it is acknowledged.
// internal/lazyfs watches it to learn what a simulated power loss must keep.
//
// The watcher may fail a sync, as the disk of a crashed machine would: a
// writer whose later writes depend on the sync having happened (SQLite,
// which writes a checkpoint into its database only after syncing its WAL;
// raft's snapshot store, which compacts the log only after a snapshot is
// durable) returns that error as the sync's own. node/wal does not: its
// files are append-mostly, so a write that lands after a failed sync is
// the same to a crash as one made before it and never synced, and raft
// panics when its stable store fails.
//
// With no watcher set (production) Active is one atomic load and Synced
// does nothing, so a writer pays no more than that.
package syncwatch

import (
	"io/fs"
	"path/filepath"
	"sync/atomic"
)

var watcher atomic.Pointer[func(path string) error]

// Set makes fn see the path of every file and directory synced from now
// on, in the syncing goroutine, before the sync's caller goes on; fn may
// block to hold a "crashed" writer, and fail the sync. Nil removes the
// watcher. Process-wide: for tests.
func Set(fn func(path string) error) {
	if fn == nil {
		watcher.Store(nil)
		return
	}
	watcher.Store(&fn)
}

// Active reports whether a watcher is set: callers that must do work to
// report a sync (open a directory, walk a tree, pick a wrapping VFS) check
// it first.
func Active() bool { return watcher.Load() != nil }

// Synced reports that path (a file or a directory) was synced without
// error, and returns the watcher's verdict on that sync.
func Synced(path string) error {
	if fn := watcher.Load(); fn != nil {
		return (*fn)(path)
	}
	return nil
}

// SyncedTree reports every regular file under dir, then every directory
// under it (dir last), as synced: for a tree written by code that syncs
// each file and then the directories but has no seam of its own (raft's
// file snapshot store, whose sink's Close does exactly that before it
// returns).
func SyncedTree(dir string) error {
	fn := watcher.Load()
	if fn == nil {
		return nil
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			dirs = append(dirs, path)
			return nil
		case d.Type().IsRegular():
			return (*fn)(path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0 && err == nil; i-- {
		err = (*fn)(dirs[i])
	}
	return err
}
