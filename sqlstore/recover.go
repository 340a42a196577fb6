package sqlstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// ErrDamaged: the database file is not a sound SQLite database, or an
// apply failed on this member only (corruption, an I/O error, a full
// disk). Open moves a damaged file aside and starts empty; after a local
// apply failure Apply and Query return ErrDamaged until the member
// restarts and rebuilds the file. Receiving a damaged snapshot section is
// ErrBadSnapshot.
var ErrDamaged = errors.New("sqlstore: database file is damaged")

// damagedSuffix is added, with a timestamp, to the name of a database file
// moved aside because it was damaged.
const damagedSuffix = ".damaged-"

// recoverDamaged checks the database file before Open uses it. A file
// SQLite reports as corrupt or not a database is moved aside (with its
// -wal and -shm, kept for inspection, never deleted) and the store starts
// empty at applied index 0: the node then restores the newest snapshot
// into it and replays the log after it, which rebuilds exactly the
// committed state. A missing file is a new store. Any other failure (an
// I/O error, a permission) is returned: the file may be sound, and
// discarding it would turn a passing fault into a full rebuild.
func (s *Store) recoverDamaged() error {
	path := filepath.Join(s.cfg.Dir, dbFileName)
	var reason error
	if _, err := os.Stat(path + rebuildMarker); err == nil {
		reason = fmt.Errorf("%w: an earlier restore or move aside did not finish", ErrDamaged)
	} else if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		// A new store; a -wal left without its database must not be
		// replayed into the new one.
		reason = fmt.Errorf("%w: -wal or -shm without the database", ErrDamaged)
		if !exists(path+"-wal") && !exists(path+"-shm") {
			return nil
		}
	} else {
		start := time.Now()
		if reason = checkDatabase(path); reason == nil {
			s.cfg.Logger.Info("sqlstore: database file checked", "path", path, "took", time.Since(start))
			return nil
		}
		if !errors.Is(reason, ErrDamaged) {
			return fmt.Errorf("sqlstore: check database file: %w", reason)
		}
	}
	aside, err := moveAside(path, time.Now())
	if err != nil {
		return fmt.Errorf("sqlstore: %w, and moving it aside failed: %w", reason, err)
	}
	s.cfg.Logger.Error("sqlstore: DAMAGED DATABASE FILE moved aside; starting empty, the node rebuilds it from the last snapshot and the log",
		"path", path, "moved_to", aside, "err", reason)
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkDatabase is Open's check of the file, cheap enough to run on every
// start whatever the file's size: the header (magic, page size, a file
// at least as long as the header says), the schema and the meta table,
// which Open reads next, all through SQLite, which also recovers a hot
// WAL here as any later open would. A full PRAGMA quick_check reads every
// page (5.1 s for 1 GiB on the reference machine, against 0.6 s for the
// rest of a restart), so it runs after Open, in the background
// (startFullCheck). A corrupt file comes back as ErrDamaged.
func checkDatabase(path string) error {
	if err := checkHeader(path); err != nil {
		return err
	}
	conn, err := openDB(path, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE)
	if err != nil {
		return damaged(err)
	}
	defer conn.Close()
	var meta bool
	err = forRows(conn, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = '_concord_meta'", func(string) { meta = true })
	if err != nil {
		return damaged(err)
	}
	if meta {
		return quickCheck(conn, "PRAGMA quick_check(_concord_meta)")
	}
	return nil
}

// quickCheck runs a quick_check pragma; anything but "ok" is ErrDamaged.
func quickCheck(conn *sqlite3.Conn, pragma string) error {
	var problems []string
	err := forRows(conn, pragma, func(msg string) {
		if msg != "ok" {
			problems = append(problems, msg)
		}
	})
	if err != nil {
		return damaged(err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: %v", ErrDamaged, pragma, problems)
	}
	return nil
}

// forRows runs a query and calls fn with the first column of each row.
func forRows(conn *sqlite3.Conn, query string, fn func(string)) error {
	stmt, _, err := conn.Prepare(query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for stmt.Step() {
		fn(stmt.ColumnText(0))
	}
	return stmt.Err()
}

// sqliteMagic opens every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// checkHeader checks the first 100 bytes of the file against its size.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() == 0 {
		return nil // SQLite's empty database
	}
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %d bytes, shorter than the header", ErrDamaged, fi.Size())
	} else if err != nil {
		return err
	}
	if string(h[:16]) != sqliteMagic {
		return fmt.Errorf("%w: not an SQLite database (bad magic)", ErrDamaged)
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: page size %d", ErrDamaged, pageSize)
	}
	// A checkpoint that a crash interrupted may leave the file with a new
	// header and without the pages it extends the file by, or with a part
	// of its last page (found by internal/lazyfs): the -wal, synced before
	// the checkpoint began, still holds every page and SQLite reads them
	// from it. With frames in a -wal the file's size proves nothing; SQLite
	// judges the pair at open, and the background quick_check reads all.
	if walHasFrames(path) {
		return nil
	}
	if fi.Size()%pageSize != 0 {
		return fmt.Errorf("%w: %d bytes is not a whole number of %d-byte pages", ErrDamaged, fi.Size(), pageSize)
	}
	// The page count is valid when the change counter matches the
	// version-valid-for number (SQLite file format, section 1.3.7).
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	if string(h[24:28]) == string(h[92:96]) && pages*pageSize > fi.Size() {
		return fmt.Errorf("%w: truncated: the header says %d pages, the file holds %d", ErrDamaged, pages, fi.Size()/pageSize)
	}
	return nil
}

// walHasFrames reports whether path's -wal holds more than its 32-byte
// header: frames SQLite may read pages from instead of the file.
func walHasFrames(path string) bool {
	fi, err := os.Stat(path + "-wal")
	return err == nil && fi.Size() > 32
}

// fullCheck is the background PRAGMA quick_check Open starts.
type fullCheck struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startFullCheck runs PRAGMA quick_check over the whole file on a
// read-only connection of its own, without holding up the start or the
// applies. If it finds damage it writes the rebuild marker, so the next
// Open moves the file aside and the node rebuilds it, and logs it loudly:
// the member should be restarted.
func (s *Store) startFullCheck() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.check = fullCheck{cancel: cancel, done: done}
	go func() {
		defer close(done)
		path := filepath.Join(s.cfg.Dir, dbFileName)
		start := time.Now()
		conn, err := openDB(path, sqlite3.OPEN_READONLY)
		if err == nil {
			conn.SetInterrupt(ctx)
			err = quickCheck(conn, "PRAGMA quick_check")
			conn.Close()
		}
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, ErrDamaged):
			if merr := writeSynced(path+rebuildMarker, []byte(err.Error()+"\n")); merr != nil {
				err = errors.Join(err, merr)
			}
			s.cfg.Logger.Error("sqlstore: DAMAGED DATABASE FILE found by the background check; restart this member to rebuild it from the last snapshot and the log",
				"path", path, "err", err)
		case err != nil:
			s.cfg.Logger.Warn("sqlstore: background integrity check failed to run", "path", path, "err", err)
		default:
			s.cfg.Logger.Info("sqlstore: background integrity check passed", "path", path, "took", time.Since(start))
		}
	}()
}

// stop cancels the check and waits for it.
func (c *fullCheck) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
}

// damaged marks SQLite's corruption errors as ErrDamaged and passes the
// others through.
func damaged(err error) error {
	if errors.Is(err, sqlite3.CORRUPT) || errors.Is(err, sqlite3.NOTADB) {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return err
}

// rebuildMarker, next to the database file, says the files are being
// replaced (a restore swapping a snapshot in, or a move aside): it is
// written (and synced) before the first change and removed after the
// last, so that after a crash in between Open moves the remains aside and
// starts empty, instead of using a main file without its WAL, or a WAL
// with another file.
const rebuildMarker = ".rebuild"

// moveAside renames path and its -wal and -shm to path.damaged-<time>...
// and returns the new name of the main file.
func moveAside(path string, now time.Time) (string, error) {
	if err := writeSynced(path+rebuildMarker, []byte("moving the damaged database file aside\n")); err != nil {
		return "", err
	}
	aside := path + damagedSuffix + now.UTC().Format("20060102T150405.000000000Z")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		err := os.Rename(path+suffix, aside+suffix)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return "", err
	}
	if err := os.Remove(path + rebuildMarker); err != nil {
		return "", err
	}
	return aside, syncDir(filepath.Dir(path))
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
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
	if err := noteSynced(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncPath fsyncs the file or directory at path.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return noteSynced(path)
}

func syncDir(dir string) error { return syncPath(dir) }

// localFailure reports whether err is a failure of this member's file or
// machine (corruption, an I/O error, a full disk, no memory) rather than
// an outcome every member computes alike from the log.
func localFailure(err error) bool {
	for _, code := range []sqlite3.ErrorCode{sqlite3.CORRUPT, sqlite3.NOTADB, sqlite3.IOERR, sqlite3.FULL, sqlite3.NOMEM, sqlite3.CANTOPEN} {
		if errors.Is(err, code) {
			return true
		}
	}
	return false
}

// noteFailure handles an error met while applying. A local failure means
// this member's database no longer follows the log (the others applied
// the entry; here it failed or went half done), so the store fails stop:
// it writes the rebuild marker, so that the next Open moves the file
// aside and the node rebuilds it from the snapshot and the log, and from
// then on refuses every apply and query with ErrDamaged instead of
// serving a state that differs from the cluster's. Restart the member to
// rebuild. Called with s.mu held.
func (s *Store) noteFailure(err error) {
	if isNoSpace(err, s.cfg.Dir) {
		s.noSpace = true // the apply rolls the entry back and retries it (nospace.go)
		return
	}
	s.failStop(err)
}

// failStop is noteFailure's fail stop, also for a full disk that outlasted
// the apply's wait (nospace.go).
func (s *Store) failStop(err error) {
	if !localFailure(err) || s.failed.Swap(true) {
		return
	}
	path := filepath.Join(s.cfg.Dir, dbFileName)
	if merr := writeSynced(path+rebuildMarker, []byte(err.Error()+"\n")); merr != nil {
		err = errors.Join(err, merr)
	}
	s.cfg.Logger.Error("sqlstore: APPLY FAILED ON THIS MEMBER ONLY: the SQL database stops serving; restart this member to rebuild it from the last snapshot and the log",
		"path", path, "applied", s.applied, "err", err)
}

// failedErr is ErrDamaged once noteFailure stopped the store.
func (s *Store) failedErr() error {
	if s.failed.Load() {
		return fmt.Errorf("%w: an apply failed on this member; restart it to rebuild the database", ErrDamaged)
	}
	return nil
}
