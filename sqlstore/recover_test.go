package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// filledStore is a closed store in dir holding table t at index 1..n.
func filledStore(t *testing.T, dir string, n uint64) {
	t.Helper()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, r INTEGER)")})
	fillStore(t, s, 2, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func damagedFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, dbFileName+damagedSuffix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOpenMovesDamagedFileAside: a file SQLite reports as corrupt or not a
// database is kept under another name and the store starts empty at
// index 0, ready for the node's snapshot restore and log replay.
func TestOpenMovesDamagedFileAside(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"header overwritten": func(t *testing.T, path string) { overwrite(t, path, 0, bytes.Repeat([]byte{0xAB}, 100)) },
		"b-tree page garbage": func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			// Pages past the first two (schema, meta table) hold t's rows.
			overwrite(t, path, fi.Size()-2*4096, bytes.Repeat([]byte{0x5A}, 4096))
		},
		"truncated mid-file": func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/2+100); err != nil {
				t.Fatal(err)
			}
		},
		"restore cut off by a crash": func(t *testing.T, path string) {
			if err := os.WriteFile(path+rebuildMarker, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			filledStore(t, dir, 300)
			path := filepath.Join(dir, dbFileName)
			orig, _ := os.ReadFile(path)
			damage(t, path)
			if name == "b-tree page garbage" {
				// Open's cheap check passes; the background quick_check
				// finds it and marks the file for the next Open.
				s := openAt(t, dir)
				waitFor(t, func() bool { return exists(path + rebuildMarker) }, "the background check to mark the file")
				s.Close()
			}
			s, err := Open(Config{Dir: dir})
			if err != nil {
				t.Fatalf("Open of a damaged file: %v, want a fresh store", err)
			}
			defer s.Close()
			if s.AppliedIndex() != 0 {
				t.Fatalf("applied index %d after a damaged file, want 0", s.AppliedIndex())
			}
			if h := TableHash(t, s); h != TableHash(t, openTestStore(t)) {
				t.Fatalf("store not empty after a damaged file")
			}
			aside := damagedFiles(t, dir)
			if len(aside) != 1 {
				t.Fatalf("damaged file kept as %v, want one file", aside)
			}
			if kept, _ := os.ReadFile(aside[0]); len(kept) == 0 || (name == "restore cut off by a crash" && !bytes.Equal(kept, orig)) {
				t.Fatalf("the file moved aside is not the damaged file (%d bytes)", len(kept))
			}
			if _, err := os.Stat(path + rebuildMarker); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("rebuild marker left behind: %v", err)
			}
			// The fresh store works.
			if r := applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, r INTEGER)")}); r.Err != "" || r.Results[0].Error != "" {
				t.Fatalf("create: %#v", r)
			}
			fillStore(t, s, 2, 3)
		})
	}
}

// TestOpenKeepsSoundFile: a sound file, also one with a WAL left by a
// crash, is opened as it is, nothing moved aside.
func TestOpenKeepsSoundFile(t *testing.T) {
	dir := t.TempDir()
	filledStore(t, dir, 50)
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.AppliedIndex() != 50 || len(damagedFiles(t, dir)) != 0 {
		t.Fatalf("sound file: index %d, moved aside %v", s.AppliedIndex(), damagedFiles(t, dir))
	}
}

// TestOpenRefusesUnreadableFile: a failure that is not corruption (here
// the database path is a directory) is an error, and nothing is moved.
func TestOpenRefusesUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, dbFileName), 0o700); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(Config{Dir: dir}); err == nil {
		s.Close()
		t.Fatal("Open succeeded on a directory")
	} else if errors.Is(err, ErrDamaged) {
		t.Fatalf("Open: %v: a file that cannot be read is not damaged", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, dbFileName)); err != nil || !fi.IsDir() || len(damagedFiles(t, dir)) != 0 {
		t.Fatalf("the unreadable path was moved: %v", err)
	}
}

// TestOpenWALWithoutDatabase: a -wal whose database file is gone is moved
// aside, never replayed into a new database.
func TestOpenWALWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, dbFileName)
	if err := os.WriteFile(path+"-wal", bytes.Repeat([]byte{1}, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, dir)
	if s.AppliedIndex() != 0 {
		t.Fatalf("index %d", s.AppliedIndex())
	}
	if m, _ := filepath.Glob(path + damagedSuffix + "*-wal"); len(m) != 1 {
		t.Fatalf("the stray -wal was not moved aside: %v", m)
	}
}

func openAt(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestMarkApplied: MarkApplied moves the applied index forward durably
// (never back), and Apply then skips the indexes it covers.
func TestMarkApplied(t *testing.T) {
	dir := t.TempDir()
	filledStore(t, dir, 10)
	s := openAt(t, dir)
	if err := s.MarkApplied(40); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkApplied(20); err != nil || s.AppliedIndex() != 40 {
		t.Fatalf("MarkApplied below the applied index: %v, index %d", err, s.AppliedIndex())
	}
	s.Close()
	s = openAt(t, dir)
	if s.AppliedIndex() != 40 {
		t.Fatalf("index after reopen %d, want 40", s.AppliedIndex())
	}
	if r := applyReq(t, s, 40, Request{Statements: stmts("DELETE FROM t")}); r.Err == "" {
		t.Fatalf("apply at a marked index ran: %#v", r)
	}
	if n := countRows(t, s, 41, "t"); n != 9 {
		t.Fatalf("rows %d, want 9", n)
	}
}

// TestRestoreEmptySection: a snapshot without an SQL section (the
// state machine was not registered when it was taken) leaves an empty
// database at index 0, as node.StateMachine requires.
func TestRestoreEmptySection(t *testing.T) {
	dir := t.TempDir()
	filledStore(t, dir, 10)
	s := openAt(t, dir)
	if err := s.Restore(eof{}); err != nil {
		t.Fatal(err)
	}
	if s.AppliedIndex() != 0 || TableHash(t, s) != TableHash(t, openTestStore(t)) {
		t.Fatalf("after an empty restore: index %d", s.AppliedIndex())
	}
	r := applyReq(t, s, 1, Request{Statements: stmts("INSERT INTO t (v) VALUES ('x')")})
	if r.Err != "" || len(r.Results) != 1 || r.Results[0].Error == "" {
		t.Fatalf("table t survived an empty restore: %#v", r)
	}
}

type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }

// TestApplyMeetsDamage: damage Open's cheap check misses (a page of the
// table's b-tree) is met by an apply. The store stops: that apply fails,
// later applies and queries return ErrDamaged, and the next Open moves
// the file aside and starts empty for the rebuild.
func TestApplyMeetsDamage(t *testing.T) {
	dir := t.TempDir()
	filledStore(t, dir, 300)
	path := filepath.Join(dir, dbFileName)
	fi, _ := os.Stat(path)
	overwrite(t, path, fi.Size()-2*4096, bytes.Repeat([]byte{0x5A}, 4096))
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := applyReq(t, s, 301, Request{Statements: stmts("UPDATE t SET r = r + 1")})
	if r.Err == "" && (len(r.Results) != 1 || r.Results[0].Error == "") {
		t.Fatalf("an update over a damaged page succeeded: %#v", r)
	}
	r = applyReq(t, s, 302, Request{Statements: stmts("INSERT INTO t (v) VALUES ('after')")})
	if !strings.Contains(r.Err, ErrDamaged.Error()) {
		t.Fatalf("apply after the failure: %#v, want ErrDamaged", r)
	}
	if _, err := s.Query(context.Background(), Request{Statements: stmts("SELECT count(*) FROM t")}, 0); !errors.Is(err, ErrDamaged) {
		t.Fatalf("query after the failure: %v, want ErrDamaged", err)
	}
	s.Close()
	s = openAt(t, dir)
	if s.AppliedIndex() != 0 || len(damagedFiles(t, dir)) != 1 {
		t.Fatalf("reopen after the failure: index %d, moved aside %v", s.AppliedIndex(), damagedFiles(t, dir))
	}
}

// FuzzRestoreSection: a snapshot section from outside (concord snapshot
// restore, a Rollback) is either installed whole or refused with
// ErrBadSnapshot, leaving the store as it was.
func FuzzRestoreSection(f *testing.F) {
	open := func(tb testing.TB) *Store {
		s, err := Open(Config{Dir: tb.TempDir(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}
	apply := func(tb testing.TB, s *Store, index uint64, sql ...string) {
		b, err := encodeCommand(command{Request: Request{Statements: stmts(sql...)}})
		if err != nil {
			tb.Fatal(err)
		}
		if r, err := decodeResult(s.Apply(index, b)); err != nil || r.Err != "" {
			tb.Fatalf("%v: %v %#v", sql, err, r)
		}
	}
	src := open(f)
	apply(f, src, 1, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t (v) VALUES ('a'), ('b')")
	snap, err := src.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	var good bytes.Buffer
	if err := snap.Persist(&good); err != nil {
		f.Fatal(err)
	}
	snap.Release()
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:snapshotHeaderSize])
	f.Add(append([]byte("CSQL\x01"), make([]byte, 16)...))
	f.Add([]byte("CSQL"))
	dst := open(f)
	reset := func(tb testing.TB) {
		apply(tb, dst, dst.AppliedIndex()+1, "DROP TABLE IF EXISTS t", "CREATE TABLE IF NOT EXISTS other (x)")
	}
	reset(f)
	var before string
	f.Fuzz(func(t *testing.T, b []byte) {
		if before == "" {
			before = TableHash(t, dst)
		}
		err := dst.RestoreRollback(bytes.NewReader(b))
		switch {
		case err == nil:
			// Installed (or emptied): the file verifies; put the fixed
			// state back for the next input.
			if len(b) > 0 {
				if verr := verifyDatabase(filepath.Join(dst.cfg.Dir, dbFileName), dst.AppliedIndex()); verr != nil {
					t.Fatalf("installed a section that does not verify: %v", verr)
				}
			}
			reset(t)
		case !errors.Is(err, ErrBadSnapshot):
			t.Fatalf("refused with %v, want ErrBadSnapshot", err)
		}
		if got := TableHash(t, dst); got != before {
			t.Fatalf("store changed after input %q", b)
		}
	})
}
