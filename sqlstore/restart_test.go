package sqlstore

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// testLog is a sequence of encoded commands, the raft log of a test:
// entry i+1 is log[i]. The inserts call random() and carry blobs big
// enough that SQLite checkpoints the WAL into the file along the way.
func testLog(t *testing.T, n int) [][]byte {
	t.Helper()
	log := make([][]byte, 0, n)
	add := func(i int, sql string, args ...any) {
		b, err := encodeCommand(command{Timestamp: 1_700_000_000_000_000_000 + int64(i)*1e6, Seed: uint64(i) * 7919,
			Request: Request{Statements: []Statement{{SQL: sql, Positional: args}}}})
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, b)
	}
	add(0, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, r INTEGER, b BLOB, at TEXT)")
	for i := 1; i < n; i++ {
		if i%10 == 0 {
			add(i, "UPDATE t SET r = random() WHERE id = ?", int64(i/2))
			continue
		}
		add(i, "INSERT INTO t (v, r, b, at) VALUES (?, random(), randomblob(16000), datetime('now'))", fmt.Sprint("row", i))
	}
	return log
}

// replay applies log entries from..to (1-based, inclusive) to s, as raft
// does after a restart: all of them, the store skipping those it has.
func replay(t *testing.T, s *Store, log [][]byte, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := decodeResult(s.Apply(uint64(i), log[i-1])); err != nil {
			t.Fatal(err)
		}
	}
}

// crashImage copies the database files as they are on disk now, as a
// crash (kill -9) would leave them; restoreImage puts them back after the
// store was closed, without the -shm, as after a reboot.
func crashImage(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	img := map[string][]byte{}
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, dbFileName+suffix))
		if err == nil {
			img[suffix] = b
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return img
}

func restoreImage(t *testing.T, dir string, img map[string][]byte) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, dbFileName+suffix))
		if b, ok := img[suffix]; ok {
			if err := os.WriteFile(filepath.Join(dir, dbFileName+suffix), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestLostUnsyncedWriteCatchesUp: with synchronous=NORMAL a crash may
// lose the last commits (here: the files go back to a copy taken earlier,
// or the WAL loses its tail). The reopened store reports the index it
// really holds, and replaying the log brings it to the same tables as a
// store that never crashed.
func TestLostUnsyncedWriteCatchesUp(t *testing.T) {
	const n = 400
	log := testLog(t, n)
	ref := openTestStore(t)
	replay(t, ref, log, 1, n)
	want := TableHash(t, ref)

	cases := map[string]func(t *testing.T, s *Store, dir string) map[string][]byte{
		"files as of an earlier commit": func(t *testing.T, s *Store, dir string) map[string][]byte {
			replay(t, s, log, 1, 250)
			img := crashImage(t, dir)
			replay(t, s, log, 251, n)
			return img
		},
		"WAL tail lost": func(t *testing.T, s *Store, dir string) map[string][]byte {
			replay(t, s, log, 1, 300)
			// Empty the WAL, so that the commits after this are at its
			// end (SQLite otherwise reuses it from the start).
			s.mu.Lock()
			err := s.conn.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			s.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			replay(t, s, log, 301, n)
			img := crashImage(t, dir)
			if len(img["-wal"]) < 100_000 {
				t.Fatalf("WAL of %d bytes: too small to lose a tail", len(img["-wal"]))
			}
			img["-wal"] = img["-wal"][:len(img["-wal"])-50_000-123] // cuts a frame in two
			return img
		},
	}
	for name, crash := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openAt(t, dir)
			img := crash(t, s, dir)
			s.Close() // a clean close checkpoints: the image is what a crash leaves
			restoreImage(t, dir, img)
			s = openAt(t, dir)
			got := s.AppliedIndex()
			if got == 0 || got >= n {
				t.Fatalf("applied index %d after the crash: want some but not all of the %d entries", got, n)
			}
			if len(damagedFiles(t, dir)) != 0 {
				t.Fatalf("a lost write was taken for damage")
			}
			replay(t, s, log, 1, n)
			if s.AppliedIndex() != n || TableHash(t, s) != want {
				t.Fatalf("after replay from index %d: index %d, tables differ from the store that never crashed", got, s.AppliedIndex())
			}
			t.Logf("reopened at index %d of %d, caught up", got, n)
		})
	}
}
