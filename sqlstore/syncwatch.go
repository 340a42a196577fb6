package sqlstore

import (
	"net/url"
	"path/filepath"
	"sync"

	"github.com/concord-db/concord/internal/syncwatch"
	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
)

// While a test watches syncs (internal/syncwatch, for internal/lazyfs's
// simulated power losses), the database and its -wal and journals are
// opened through watchedVFS, which reports every sync SQLite makes;
// otherwise through SQLite's default VFS, untouched.
const watchedVFSName = "concord-syncwatch"

var registerWatched sync.Once

// openDB opens the database file at path with flags (OPEN_URI is added).
func openDB(path string, flags sqlite3.OpenFlag) (*sqlite3.Conn, error) {
	if !syncwatch.Active() {
		return sqlite3.OpenFlags(path, flags)
	}
	registerWatched.Do(func() { vfs.Register(watchedVFSName, watchedVFS{vfs.Find("")}) })
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: "vfs=" + watchedVFSName}
	return sqlite3.OpenFlags(u.String(), flags|sqlite3.OPEN_URI)
}

// watchedVFS is the default VFS with every successful Sync reported.
type watchedVFS struct{ vfs.VFS }

func (v watchedVFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := v.VFS.Open(name, flags)
	return wrapWatched(f, name, flags, err)
}

func (v watchedVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := v.VFS.(vfs.VFSFilename).OpenFilename(name, flags)
	return wrapWatched(f, name.String(), flags, err)
}

// Delete reports the directory when SQLite asked for it to be synced.
func (v watchedVFS) Delete(name string, syncDir bool) error {
	err := v.VFS.Delete(name, syncDir)
	if err == nil && syncDir {
		err = syncwatch.Synced(filepath.Dir(name))
	}
	return err
}

func wrapWatched(f vfs.File, name string, flags vfs.OpenFlag, err error) (vfs.File, vfs.OpenFlag, error) {
	if err != nil || name == "" { // a temporary file: deleted at close, never durable
		return f, flags, err
	}
	created := flags&vfs.OPEN_CREATE != 0 && flags&(vfs.OPEN_MAIN_JOURNAL|vfs.OPEN_SUPER_JOURNAL|vfs.OPEN_WAL) != 0
	return &watchedFile{File: f, name: name, syncDir: created}, flags, nil
}

// watchedFile is a file of watchedVFS. It passes on the optional
// interfaces the default VFS's files implement (shared memory for the WAL
// index, memory mapping, lock state, ...), as SQLite looks them up on the
// file it is given.
type watchedFile struct {
	vfs.File
	name    string
	syncDir bool // the default VFS syncs the directory at this journal's first sync
}

func (f *watchedFile) Sync(flags vfs.SyncFlag) error {
	if err := f.File.Sync(flags); err != nil {
		return err
	}
	// A sync the watcher fails (a simulated crash) fails here too, so that
	// SQLite writes nothing that relies on it (a checkpoint after the WAL's
	// sync).
	if err := syncwatch.Synced(f.name); err != nil {
		return err
	}
	if f.syncDir {
		f.syncDir = false
		return syncwatch.Synced(filepath.Dir(f.name))
	}
	return nil
}

func (f *watchedFile) Unwrap() vfs.File { return f.File }

func (f *watchedFile) SharedMemory() vfs.SharedMemory {
	if s, ok := f.File.(vfs.FileSharedMemory); ok {
		return s.SharedMemory()
	}
	return nil
}

func (f *watchedFile) MemoryMapper() vfs.MemoryMapper {
	if m, ok := f.File.(vfs.FileMemoryMapper); ok {
		return m.MemoryMapper()
	}
	return nil
}

func (f *watchedFile) LockState() vfs.LockLevel {
	if l, ok := f.File.(vfs.FileLockState); ok {
		return l.LockState()
	}
	return vfs.LOCK_EXCLUSIVE + 1 // SQLite's "unknown"
}

func (f *watchedFile) PersistWAL() bool {
	p, ok := f.File.(vfs.FilePersistWAL)
	return ok && p.PersistWAL()
}

func (f *watchedFile) SetPersistWAL(keep bool) {
	if p, ok := f.File.(vfs.FilePersistWAL); ok {
		p.SetPersistWAL(keep)
	}
}

func (f *watchedFile) PowersafeOverwrite() bool {
	p, ok := f.File.(vfs.FilePowersafeOverwrite)
	return ok && p.PowersafeOverwrite()
}

func (f *watchedFile) SetPowersafeOverwrite(psow bool) {
	if p, ok := f.File.(vfs.FilePowersafeOverwrite); ok {
		p.SetPowersafeOverwrite(psow)
	}
}

func (f *watchedFile) SizeHint(size int64) error {
	if h, ok := f.File.(vfs.FileSizeHint); ok {
		return h.SizeHint(size)
	}
	return nil
}

func (f *watchedFile) HasMoved() (bool, error) {
	if h, ok := f.File.(vfs.FileHasMoved); ok {
		return h.HasMoved()
	}
	return false, nil
}

// noteSynced reports a file or directory this package synced itself and
// returns the watcher's verdict.
func noteSynced(path string) error {
	if syncwatch.Active() {
		return syncwatch.Synced(path)
	}
	return nil
}
