package sqlstore

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ncruces/go-sqlite3"
)

// Backup writes a consistent copy of the database as a SQLite file (what
// rqlite's GET /db/backup gives): after a read barrier, so it holds every
// write acknowledged before the call on any member. The copy is made with
// SQLite's backup API into a temporary file and streamed from it, never
// whole in memory. concord's own bookkeeping table (_concord_meta) is
// dropped from the copy and its journal mode set back to DELETE, so the
// file is a plain database sqlite3 and rqlite open as it is.
func (db *DB) Backup(ctx context.Context, w io.Writer) error {
	if err := db.readAt(ctx, QueryOptions{Level: LevelLinearizable}); err != nil {
		return err
	}
	path, err := db.store.backupFile()
	if err != nil {
		return err
	}
	defer os.Remove(path)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	return nil
}

// backupFile copies the database into a new temporary file in the
// store's directory, without concord's meta table. The caller removes it.
func (s *Store) backupFile() (path string, err error) {
	tmp, err := os.CreateTemp(s.cfg.Dir, "backup-*.db")
	if err != nil {
		return "", fmt.Errorf("sqlstore: backup: %w", err)
	}
	path = tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	rc, err := s.reader()
	if err != nil {
		return "", err
	}
	err = rc.conn.Backup("main", path)
	s.release(rc)
	if err != nil {
		return "", fmt.Errorf("sqlstore: backup: %w", err)
	}
	conn, err := sqlite3.Open(path)
	if err != nil {
		return "", fmt.Errorf("sqlstore: backup: %w", err)
	}
	defer conn.Close()
	if err := conn.Exec("DROP TABLE IF EXISTS _concord_meta; PRAGMA journal_mode=DELETE"); err != nil {
		return "", fmt.Errorf("sqlstore: backup: strip meta table: %w", err)
	}
	return path, nil
}

// Dump writes the database as SQL text (sqlite3's .dump, of the user's
// tables, rows, indexes, triggers and views; not concord's meta table),
// after a read barrier, from one read transaction, row by row.
func (db *DB) Dump(ctx context.Context, w io.Writer) error {
	if err := db.readAt(ctx, QueryOptions{Level: LevelLinearizable}); err != nil {
		return err
	}
	rc, err := db.store.reader()
	if err != nil {
		return err
	}
	defer db.store.release(rc)
	rc.conn.SetInterrupt(ctx)
	return dump(rc.conn, w)
}
