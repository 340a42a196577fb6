package sqlstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ncruces/go-sqlite3"

	"github.com/concord-db/concord/node"
)

// A snapshot section is a header (magic, format version, applied index,
// file size) followed by the SQLite file's bytes.
var snapshotMagic = [4]byte{'C', 'S', 'Q', 'L'}

const (
	snapshotVersion    = 1
	snapshotHeaderSize = 4 + 1 + 8 + 8
)

// ErrBadSnapshot: a snapshot section that fails verification.
var ErrBadSnapshot = errors.New("sqlstore: invalid snapshot")

// snapshot is a point-in-time view: a read transaction on its own
// connection, which WAL mode keeps stable while applies continue.
type snapshot struct {
	dir   string
	conn  *sqlite3.Conn
	index uint64
}

// Snapshot opens a read transaction at the current applied index; it is
// cheap, and Persist streams from that view later (node.StateMachine).
func (s *Store) Snapshot() (node.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	conn, err := openDB(filepath.Join(s.cfg.Dir, dbFileName), sqlite3.OPEN_READONLY)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: snapshot: %w", err)
	}
	// BEGIN is deferred: the SELECT starts the read transaction now,
	// while apply is held off by s.mu.
	if err := conn.Exec("BEGIN; SELECT count(*) FROM _concord_meta"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlstore: snapshot: begin read: %w", err)
	}
	return &snapshot{dir: s.cfg.Dir, conn: conn, index: s.applied}, nil
}

// Persist writes the header and the database as of Snapshot, copied with
// the backup API into a temp file and streamed from it (never the whole
// database in memory).
func (sn *snapshot) Persist(w io.Writer) error {
	tmp, err := os.CreateTemp(sn.dir, "snapshot-*.db")
	if err != nil {
		return fmt.Errorf("sqlstore: persist: %w", err)
	}
	path := tmp.Name()
	tmp.Close()
	defer os.Remove(path)
	if err := sn.conn.Backup("main", path); err != nil {
		return fmt.Errorf("sqlstore: persist: backup: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sqlstore: persist: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sqlstore: persist: %w", err)
	}
	hdr := make([]byte, 0, snapshotHeaderSize)
	hdr = append(hdr, snapshotMagic[:]...)
	hdr = append(hdr, snapshotVersion)
	hdr = binary.BigEndian.AppendUint64(hdr, sn.index)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(fi.Size()))
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("sqlstore: persist: %w", err)
	}
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("sqlstore: persist: %w", err)
	}
	return nil
}

// Release ends the snapshot's read transaction.
func (sn *snapshot) Release() {
	sn.conn.Exec("ROLLBACK")
	sn.conn.Close()
}

// receiveSnapshot streams a section into a temp file in dir and verifies
// it (header, size, quick_check, meta table at the header's index). The
// caller owns the returned file path.
func receiveSnapshot(dir string, r io.Reader) (path string, index uint64, err error) {
	var hdr [snapshotHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", 0, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if [4]byte(hdr[:4]) != snapshotMagic || hdr[4] != snapshotVersion {
		return "", 0, fmt.Errorf("%w: unknown magic or version", ErrBadSnapshot)
	}
	index = binary.BigEndian.Uint64(hdr[5:13])
	size := int64(binary.BigEndian.Uint64(hdr[13:21]))
	tmp, err := os.CreateTemp(dir, "restore-*.db")
	if err != nil {
		return "", 0, fmt.Errorf("sqlstore: restore: %w", err)
	}
	path = tmp.Name()
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	n, err := io.Copy(tmp, io.LimitReader(r, size))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("sqlstore: restore: %w", err)
	}
	if n != size {
		return "", 0, fmt.Errorf("%w: %d of %d bytes", ErrBadSnapshot, n, size)
	}
	if err := verifyDatabase(path, index); err != nil {
		return "", 0, err
	}
	return path, index, nil
}

// verifyDatabase checks the file at path is a sound SQLite database whose
// meta table says it is at index.
func verifyDatabase(path string, index uint64) error {
	conn, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READONLY)
	if err != nil {
		return fmt.Errorf("%w: open: %v", ErrBadSnapshot, err)
	}
	defer conn.Close()
	r, err := execStatement(conn, Statement{SQL: "PRAGMA quick_check"})
	if err != nil || len(r.Rows) != 1 || r.Rows[0][0] != "ok" {
		return fmt.Errorf("%w: quick_check: %v %v", ErrBadSnapshot, r.Rows, err)
	}
	r, err = execStatement(conn, Statement{SQL: "SELECT value FROM _concord_meta WHERE key = 'applied_index'"})
	if err != nil || len(r.Rows) != 1 {
		return fmt.Errorf("%w: meta table: %v", ErrBadSnapshot, err)
	}
	if got, _ := r.Rows[0][0].(int64); uint64(got) != index {
		return fmt.Errorf("%w: file at index %d, header says %d", ErrBadSnapshot, got, index)
	}
	return nil
}

// ValidateSnapshot checks a section without installing it
// (node.SnapshotValidator).
func (s *Store) ValidateSnapshot(r io.Reader) error {
	path, _, err := receiveSnapshot(s.cfg.Dir, r)
	if err != nil {
		return err
	}
	return os.Remove(path)
}

// Restore replaces the database with a snapshot section
// (node.StateMachine). It always replaces it, whatever the file's applied
// index: the node decides when a restore is needed, and skips it at start
// when the file is already past the snapshot (node.DurableStateMachine).
// An empty section (a snapshot without the SQL state machine) leaves an
// empty database. The section is verified whole in a temp file before
// anything changes.
func (s *Store) Restore(r io.Reader) error {
	br := bufio.NewReader(r)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return s.swapIn("")
	}
	path, _, err := receiveSnapshot(s.cfg.Dir, br)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	// The file must be durable before the rename that swaps it in is: else
	// a power loss after the directory's sync may leave a part of it as
	// the database, whose applied index says it holds the whole snapshot
	// (found by internal/lazyfs).
	if err := syncPath(path); err != nil {
		return fmt.Errorf("sqlstore: restore: %w", err)
	}
	return s.swapIn(path)
}

// RestoreRollback is Restore (node.RollbackRestorer): the database has no
// watchers to cancel, and Restore already replaces it.
func (s *Store) RestoreRollback(r io.Reader) error {
	return s.Restore(r)
}

// swapIn closes the database, renames the verified file at path over it
// (or, with path "", removes it for an empty store) and reopens it.
func (s *Store) swapIn(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.check.stop() // it checks the file being replaced
	s.ckpt.stop()
	if err := s.closeConns(); err != nil {
		s.cfg.Logger.Warn("sqlstore: close before restore", "err", err)
	}
	main := filepath.Join(s.cfg.Dir, dbFileName)
	// Until the new file is in place the directory holds a mix of old and
	// new: the marker makes Open after a crash here discard it (and the
	// node restore the snapshot again) instead of using it.
	if err := writeSynced(main+rebuildMarker, []byte("restoring a snapshot\n")); err != nil {
		s.closed = true
		return fmt.Errorf("sqlstore: restore: %w", err)
	}
	// The old -wal must go first: SQLite would replay it into the new file.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(main + suffix); err != nil && !os.IsNotExist(err) {
			s.closed = true
			return fmt.Errorf("sqlstore: restore: %w", err)
		}
	}
	var err error
	if path == "" {
		err = os.Remove(main)
		if os.IsNotExist(err) {
			err = nil
		}
	} else {
		err = os.Rename(path, main)
	}
	if err != nil {
		s.closed = true
		return fmt.Errorf("sqlstore: restore: swap in: %w", err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		s.closed = true
		return fmt.Errorf("sqlstore: restore: %w", err)
	}
	if err := s.reopen(); err != nil {
		s.closed = true
		return fmt.Errorf("sqlstore: restore: reopen: %w", err)
	}
	if err := os.Remove(main + rebuildMarker); err != nil {
		return fmt.Errorf("sqlstore: restore: %w", err)
	}
	// Else a power loss brings the marker back and the next start moves
	// the restored file aside and rebuilds it all again (lazyfs found it).
	if err := syncDir(s.cfg.Dir); err != nil {
		return fmt.Errorf("sqlstore: restore: %w", err)
	}
	return nil
}
