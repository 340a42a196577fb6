package sqlstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// ErrDamaged: the database file is not a sound SQLite database. Open
// moves such a file aside and starts empty; receiving a damaged snapshot
// section is ErrBadSnapshot.
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

// checkDatabase opens path read-write (so SQLite recovers a hot WAL as any
// later open would) and runs PRAGMA quick_check, which reads every page of
// the b-trees and the free list. A corrupt file comes back as ErrDamaged.
func checkDatabase(path string) error {
	conn, err := sqlite3.Open(path)
	if err != nil {
		return damaged(err)
	}
	defer conn.Close()
	stmt, _, err := conn.Prepare("PRAGMA quick_check")
	if err != nil {
		return damaged(err)
	}
	defer stmt.Close()
	var problems []string
	for stmt.Step() {
		if msg := stmt.ColumnText(0); msg != "ok" {
			problems = append(problems, msg)
		}
	}
	if err := stmt.Err(); err != nil {
		return damaged(err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: quick_check: %v", ErrDamaged, problems)
	}
	return nil
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
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
