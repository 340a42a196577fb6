package sqlstore

import (
	"strings"
	"testing"
)

// rowsOf reads `SELECT id FROM t ORDER BY id` from s.
func idsOf(t *testing.T, s *Store) []int64 {
	t.Helper()
	var ids []int64
	st, _, err := s.conn.Prepare("SELECT id FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for st.Step() {
		ids = append(ids, st.ColumnInt64(0))
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func encodeReq(t *testing.T, req Request) []byte {
	t.Helper()
	b, err := encodeCommand(command{Timestamp: 1_700_000_000_000_000_000, Seed: 7, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRollbackConflictInBatch: a statement whose OR ROLLBACK fires (or a
// trigger's RAISE(ROLLBACK)) in the middle command of a batch fails alone,
// as under rqlite; the other commands, and the other statements of its
// own request, stand; a ?transaction request is undone whole; the store
// is not marked damaged and records the entry.
func TestRollbackConflictInBatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		middle Request
		want   []int64 // ids in t afterwards
		errAt  int     // the middle request's failing statement
	}{
		{"insert or rollback", Request{Statements: stmts(
			"INSERT INTO t VALUES (10)", "INSERT OR ROLLBACK INTO t VALUES (1)", "INSERT INTO t VALUES (11)")},
			[]int64{1, 2, 3, 10, 11}, 1},
		{"update or rollback", Request{Statements: stmts(
			"INSERT INTO t VALUES (10)", "UPDATE OR ROLLBACK t SET id = 1 WHERE id = 2", "INSERT INTO t VALUES (11)")},
			[]int64{1, 2, 3, 10, 11}, 1},
		{"trigger raise rollback", Request{Statements: stmts(
			"INSERT INTO t VALUES (10)", "INSERT INTO t VALUES (666)", "INSERT INTO t VALUES (11)")},
			[]int64{1, 2, 3, 10, 11}, 1},
		{"transaction", Request{Transaction: true, Statements: stmts(
			"INSERT INTO t VALUES (10)", "INSERT OR ROLLBACK INTO t VALUES (1)", "INSERT INTO t VALUES (11)")},
			[]int64{1, 2, 3}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batched, single := openTestStore(t), openTestStore(t)
			setup := Request{Statements: stmts(
				"CREATE TABLE t (id INTEGER PRIMARY KEY)",
				"CREATE TRIGGER no666 BEFORE INSERT ON t WHEN NEW.id = 666 BEGIN SELECT RAISE(ROLLBACK, 'no 666'); END",
				"INSERT INTO t VALUES (1)")}
			for _, s := range []*Store{batched, single} {
				if r := applyReq(t, s, 1, setup); r.Err != "" || r.Results[2].Error != "" {
					t.Fatalf("setup: %#v", r)
				}
			}
			cmds := [][]byte{
				encodeReq(t, Request{Statements: stmts("INSERT INTO t VALUES (2)")}),
				encodeReq(t, tc.middle),
				encodeReq(t, Request{Statements: stmts("INSERT INTO t VALUES (3)")}),
			}
			out := batched.ApplyBatch(2, cmds)
			for i, b := range cmds {
				single.Apply(uint64(i+2), b)
			}
			for _, s := range []*Store{batched, single} {
				if err := s.failedErr(); err != nil {
					t.Fatalf("store marked damaged: %v", err)
				}
			}
			for i, b := range out {
				r, err := decodeResult(b)
				if err != nil || r.Err != "" {
					t.Fatalf("command %d: %v %q", i, err, r.Err)
				}
				if i != 1 {
					if len(r.Results) != 1 || r.Results[0].Error != "" || r.Results[0].RowsAffected != 1 {
						t.Fatalf("command %d: %#v", i, r.Results)
					}
					continue
				}
				for j, res := range r.Results {
					if (j == tc.errAt) != (res.Error != "") {
						t.Fatalf("middle statement %d: %#v", j, res)
					}
				}
				if e := r.Results[tc.errAt].Error; e == "" || strings.HasPrefix(e, "sqlstore") || strings.HasPrefix(e, "sqlite3") {
					t.Fatalf("middle statement error %q, want SQLite's", r.Results[tc.errAt].Error)
				}
			}
			got := idsOf(t, batched)
			if len(got) != len(tc.want) {
				t.Fatalf("ids %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("ids %v, want %v", got, tc.want)
				}
			}
			if batched.AppliedIndex() != 2 || single.AppliedIndex() != 4 {
				t.Fatalf("applied %d and %d", batched.AppliedIndex(), single.AppliedIndex())
			}
			if TableHash(t, batched) != TableHash(t, single) {
				t.Fatal("batched and single applies differ")
			}
			// The store keeps applying.
			if r := applyReq(t, batched, 3, Request{Statements: stmts("INSERT INTO t VALUES (99)")}); r.Err != "" || r.Results[0].Error != "" {
				t.Fatalf("next apply: %#v", r)
			}
		})
	}
}
