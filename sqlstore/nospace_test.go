package sqlstore

import (
	"fmt"
	"testing"
)

// capPages makes the apply connection's database full after a few more
// pages (PRAGMA max_page_count: SQLite then fails writes with SQLITE_FULL,
// as on a full file system).
func capPages(t *testing.T, s *Store, extra int) {
	t.Helper()
	r, err := execStatement(s.conn, Statement{SQL: "PRAGMA page_count"})
	if err != nil || len(r.Rows) != 1 {
		t.Fatalf("page_count: %v %v", r.Rows, err)
	}
	pages, _ := r.Rows[0][0].(int64)
	if err := s.conn.Exec(fmt.Sprintf("PRAGMA max_page_count=%d", pages+int64(extra))); err != nil {
		t.Fatal(err)
	}
}

// TestApplyRidesOutFullDisk: entries that meet a full database (here a
// page cap, SQLITE_FULL as on a full file system) are rolled back whole
// and run again once space returns, instead of failing stop: the store
// stays usable, every entry is applied once, and the tables equal those
// of a store that never ran out of space. Apply and ApplyBatch both.
func TestApplyRidesOutFullDisk(t *testing.T) {
	const n = 60
	log := testLog(t, n)
	ref := openTestStore(t)
	replay(t, ref, log, 1, n)
	want := TableHash(t, ref)
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			s := openTestStore(t)
			replay(t, s, log, 1, 20)
			s.mu.Lock()
			capPages(t, s, 2)
			s.mu.Unlock()
			waits := 0
			prev := noSpacePause
			noSpacePause = func(attempt int) {
				waits++
				if attempt == 2 { // space returns
					if err := s.conn.Exec("PRAGMA max_page_count=1073741823"); err != nil {
						t.Error(err)
					}
				}
			}
			defer func() { noSpacePause = prev }()
			want, last := want, uint64(n)
			if batched { // entries 21..n as one entry at index 21, on both stores
				ref := openTestStore(t)
				replay(t, ref, log, 1, 20)
				ref.ApplyBatch(21, log[20:n])
				want, last = TableHash(t, ref), 21
				for i, b := range s.ApplyBatch(21, log[20:n]) {
					if r, err := decodeResult(b); err != nil || r.Err != "" {
						t.Fatalf("batched command %d: %v %v", i, r.Err, err)
					}
				}
			} else {
				replay(t, s, log, 21, n)
			}
			if waits < 3 {
				t.Fatalf("the apply waited %d times: the cap did not make it meet a full database", waits)
			}
			if err := s.failedErr(); err != nil {
				t.Fatalf("a full database failed the store: %v", err)
			}
			if s.AppliedIndex() != last || TableHash(t, s) != want {
				t.Fatalf("after riding out a full database: index %d, tables differ from a store that never filled", s.AppliedIndex())
			}
		})
	}
}

// TestApplyFullDiskGivesUp: when the store closes (or the wait passes its
// limit) while the database is still full, the apply fails stop as for any
// local failure, so that raft's shutdown, which waits for the apply, ends.
func TestApplyFullDiskGivesUp(t *testing.T) {
	log := testLog(t, 30)
	s := openTestStore(t)
	replay(t, s, log, 1, 10)
	s.mu.Lock()
	capPages(t, s, 1)
	s.mu.Unlock()
	prev := noSpacePause
	noSpacePause = func(int) { s.closing.Store(true) }
	defer func() { noSpacePause = prev }()
	var failed bool
	for i := 11; i <= 30 && !failed; i++ {
		r, err := decodeResult(s.Apply(uint64(i), log[i-1]))
		failed = err != nil || r.Err != ""
	}
	if !failed || s.failedErr() == nil {
		t.Fatalf("a full database at close: the apply did not fail stop (failed %v, store %v)", failed, s.failedErr())
	}
}
