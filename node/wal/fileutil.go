package wal

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/concord-db/concord/internal/syncwatch"
)

// syncs counts the fsync and fdatasync calls this package makes, so tests
// and benchmarks can check the cost of each operation.
var syncs atomic.Uint64

// synced tells internal/syncwatch's watcher, if a test set one, that f was
// synced without error: one atomic load when none is set. A watcher's
// failure is not the log's (see syncwatch: appends after a crash instant
// are as good as un-synced ones made before it).
func synced(f *os.File, err error) error {
	if err == nil && syncwatch.Active() {
		_ = syncwatch.Synced(f.Name())
	}
	return err
}

// datasync flushes f's data and the metadata needed to read it back (its
// size): fdatasync(2) where the platform has it.
func datasync(f *os.File) error {
	syncs.Add(1)
	return synced(f, fdatasync(f))
}

// syncFile flushes f's data and all its metadata: fsync(2).
func syncFile(f *os.File) error {
	syncs.Add(1)
	return synced(f, f.Sync())
}

// syncDir makes the creations, renames and removals of entries in dir
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = syncFile(d)
	return errors.Join(err, d.Close())
}

// writeFileAtomic replaces dir/name with data so that a crash leaves the
// old or the new contents, never a mix: write a temporary file, fsync it,
// rename it over name, fsync the directory.
func writeFileAtomic(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = syncFile(f)
	}
	if err = errors.Join(err, f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}
