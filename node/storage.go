package node

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/concord-db/concord/node/logstore"
	"github.com/concord-db/concord/node/wal"
	"github.com/hashicorp/raft"
)

// Data dir layout:
//
//	<data-dir>/node-id     this node's id, checked on every start
//	<data-dir>/wal/        the raft log and stable state (term, vote): see node/wal
//	<data-dir>/raft.db     instead of wal/, in data dirs created before node/wal:
//	                       the same in one bbolt file (node/logstore), kept in use
//	<data-dir>/snapshots/  raft snapshots, newest MaxSnapshots kept
//
// A data dir keeps the log store it was created with: one holding raft.db
// goes on with node/logstore, any other uses (or creates) wal/. A wal/
// from raft-wal, which came before node/logstore, is refused by wal.Open
// (its files are not node/wal's).
const (
	nodeIDFile    = "node-id"
	walDir        = "wal"
	legacyLogFile = "raft.db"
	snapshotsDir  = "snapshots" // created by raft.FileSnapshotStore under DataDir
)

// storage is the node's durable state.
type storage struct {
	dir       string
	log       logStore
	snapshots raft.SnapshotStore
	space     *diskSpace // whether the file system is full (diskfull.go)
}

// logStore is raft's log and stable store in one, closed at shutdown:
// *wal.Log, or *logstore.Store in older data dirs.
type logStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// openStorage opens (or creates) the data dir. It refuses a data dir that
// belongs to another node id. onSync, if set, is told the duration of each
// log append's fdatasync (wal.Options.OnSync).
func openStorage(dir, id string, maxSnapshots int, logger *slog.Logger, onSync func(time.Duration)) (*storage, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := claimDataDir(dir, id); err != nil {
		return nil, err
	}
	log, err := openLogStore(dir, logger, onSync)
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, maxSnapshots, newHCLog(logger, "snapshots"))
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("open snapshot store in %s: %w", dir, err)
	}
	removeSnapshotLeftovers(filepath.Join(dir, snapshotsDir), "", logger)
	if err := syncDataDir(dir); err != nil {
		log.Close()
		return nil, err
	}
	space := newDiskSpace(filepath.Join(dir, walDir), logger)
	if _, ok := log.(*wal.Log); !ok {
		space.dir = dir // the legacy store keeps raft.db in the data dir
	}
	return &storage{dir: dir, log: spaceWatchedLog{log, space}, snapshots: metaSnapshotStore{snaps, filepath.Join(dir, snapshotsDir)}, space: space}, nil
}

// openLogStore opens the data dir's log store: node/logstore's raft.db if
// the data dir has one, else node/wal in wal/.
func openLogStore(dir string, logger *slog.Logger, onSync func(time.Duration)) (logStore, error) {
	legacy := filepath.Join(dir, legacyLogFile)
	_, err := os.Stat(legacy)
	switch {
	case err == nil:
		logger.Info("data dir holds raft.db: using the bbolt log store", "path", legacy)
		s, err := logstore.Open(legacy)
		if err != nil {
			return nil, err
		}
		return s, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("inspect %s: %w", legacy, err)
	}
	l, err := wal.Open(filepath.Join(dir, walDir), wal.Options{Logger: logger.With("component", "wal"), OnSync: onSync})
	if err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	return l, nil
}

func claimDataDir(dir, id string) error {
	path := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return writeFileSync(path, []byte(id+"\n"))
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	}
	if have := strings.TrimSpace(string(b)); have != id {
		return fmt.Errorf("data dir %s belongs to node %q, not %q", dir, have, id)
	}
	return nil
}

func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := noteSynced(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return err
	}
	return noteSynced(filepath.Dir(path))
}

// hasState reports whether the data dir holds raft state from an earlier run.
func (s *storage) hasState() (bool, error) {
	return raft.HasExistingState(s.log, s.log, s.snapshots)
}

func (s *storage) close() error { return s.log.Close() }

// openSnapshotState opens the state.bin of snapshot id for the restore at
// start, without raft's Open, which first reads the whole file to check its
// CRC64: the start often skips the durable sections (see restoreAtStart),
// and every section read is checked against its own CRC32C anyway. The
// path is raft.FileSnapshotStore's on-disk layout, fixed by the data dirs
// that already exist.
func (s *storage) openSnapshotState(id string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(s.dir, snapshotsDir, id, "state.bin"))
}

// metaSnapshotStore hands the FSM a reader that knows the snapshot's index,
// which raft's FSM.Restore does not pass on, and cleans up after a Create
// that fails.
type metaSnapshotStore struct {
	raft.SnapshotStore
	dir string // the snapshots directory
}

// Create is raft's, except that when it fails (writing meta.json on a full
// disk) the temporary directory it leaves is removed: raft's
// FileSnapshotStore leaks it, and would leak one more at every snapshot
// attempt while the disk stays full.
func (s metaSnapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		removeSnapshotLeftovers(s.dir, fmt.Sprintf("%d-%d-", term, index), nil)
		return sink, err
	}
	return watchSink(sink, s.dir), nil
}

// removeSnapshotLeftovers removes the temporary directories ("*.tmp") of
// snapshots named with prefix in dir: what a crash or a failed Create left.
// raft ignores them, and never removes them itself.
func removeSnapshotLeftovers(dir, prefix string, logger *slog.Logger) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if name := e.Name(); e.IsDir() && strings.HasPrefix(name, prefix) && strings.HasSuffix(name, ".tmp") {
			if err := os.RemoveAll(filepath.Join(dir, name)); err == nil && logger != nil {
				logger.Info("removed an unfinished snapshot", "dir", name)
			}
		}
	}
}

func (s metaSnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.SnapshotStore.Open(id)
	if err != nil {
		return nil, nil, err
	}
	return meta, &metaReader{ReadCloser: rc, meta: meta}, nil
}

type metaReader struct {
	io.ReadCloser
	meta *raft.SnapshotMeta
}
