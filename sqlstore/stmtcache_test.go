package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// A repeated statement is prepared once on the apply connection and its
// bindings do not leak from one use to the next.
func TestApplyReusesPreparedStatements(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")})
	before := s.stmts.len()
	for i := range 5 {
		r := applyReq(t, s, uint64(i+2), Request{Statements: []Statement{{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{fmt.Sprint("v", i)}}}})
		if r.Err != "" || r.Results[0].Error != "" || r.Results[0].LastInsertID != int64(i+1) {
			t.Fatalf("insert %d: %#v", i, r)
		}
	}
	if got := s.stmts.len(); got != before+1 {
		t.Fatalf("cached user statements %d, want %d", got, before+1)
	}
	r := applyReq(t, s, 7, Request{Statements: []Statement{{SQL: "INSERT INTO t (v) VALUES (?)"}}})
	if !strings.Contains(r.Results[0].Error, "0 parameters for 1 placeholders") {
		t.Fatalf("a cached statement without its parameter: %#v", r)
	}
	rs, err := s.Query(context.Background(), Request{Statements: stmts("SELECT group_concat(v) FROM t")}, 0)
	if err != nil || rs[0].Rows[0][0] != "v0,v1,v2,v3,v4" {
		t.Fatalf("rows %v %v", rs, err)
	}
}

// The cache is bounded: the least recently used statement is finalized.
func TestStmtCacheEvicts(t *testing.T) {
	s := openTestStore(t)
	for i := range userStmtCacheSize + 10 {
		r := applyReq(t, s, uint64(i+1), Request{Statements: stmts(fmt.Sprintf("SELECT %d", i))})
		if r.Results[0].Error != "" {
			t.Fatal(r)
		}
	}
	if got := s.stmts.len(); got != userStmtCacheSize {
		t.Fatalf("cached %d, want the bound %d", got, userStmtCacheSize)
	}
	if _, ok := s.stmts.m["SELECT 0"]; ok {
		t.Fatal("the oldest statement is still cached")
	}
}

// A cached SELECT * reports the columns of the current schema, on the
// apply connection and on a pooled read connection.
func TestCachedStatementSeesSchemaChange(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (a INTEGER)", "INSERT INTO t VALUES (1)")})
	q := Request{Statements: stmts("SELECT * FROM t")}
	rs, err := s.Query(context.Background(), q, 0)
	if err != nil || !reflect.DeepEqual(rs[0].Columns, []string{"a"}) {
		t.Fatalf("before: %v %v", rs, err)
	}
	if r := applyReq(t, s, 2, q); !reflect.DeepEqual(r.Results[0].Columns, []string{"a"}) {
		t.Fatalf("apply before: %#v", r)
	}
	applyReq(t, s, 3, Request{Statements: stmts("ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'")})
	rs, err = s.Query(context.Background(), q, 0)
	if err != nil || !reflect.DeepEqual(rs[0].Columns, []string{"a", "b"}) || !reflect.DeepEqual(rs[0].Types, []string{"integer", "text"}) || len(rs[0].Rows[0]) != 2 {
		t.Fatalf("query after ALTER: %#v %v", rs, err)
	}
	r := applyReq(t, s, 4, q)
	if !reflect.DeepEqual(r.Results[0].Columns, []string{"a", "b"}) || !reflect.DeepEqual(r.Results[0].Rows, [][]any{{int64(1), "x"}}) {
		t.Fatalf("apply after ALTER: %#v", r)
	}
	applyReq(t, s, 5, Request{Statements: stmts("DROP TABLE t")})
	if r := applyReq(t, s, 6, q); !strings.Contains(r.Results[0].Error, "no such table: t") {
		t.Fatalf("cached statement on a dropped table: %#v", r)
	}
}

// User SQL never reuses one of concord's own statements, which are
// prepared with the authorizer off: the same text from a user is judged.
func TestCachedInternalStatementStillRefusedToUsers(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("SELECT 1")}) // concord's statements are cached now
	for i, sql := range []string{
		"DELETE FROM _concord_meta WHERE 0",
		"INSERT OR REPLACE INTO _concord_meta (key, value) VALUES (?, ?)",
		"SAVEPOINT stmt",
		"RELEASE stmt",
	} {
		st := Statement{SQL: sql}
		if strings.Contains(sql, "?") {
			st.Positional = []any{"applied_index", int64(1)}
		}
		r := applyReq(t, s, uint64(i+2), Request{Statements: []Statement{st}})
		if r.Err != "" || !strings.Contains(r.Results[0].Error, "not authorized") {
			t.Fatalf("%s: %#v", sql, r)
		}
	}
	if got := s.AppliedIndex(); got != 5 {
		t.Fatalf("applied index %d", got)
	}
}

// A statement cached while allowed is judged again when a schema change
// makes it forbidden (a trigger calling a member-dependent function):
// SQLite re-prepares it under the authorizer, as a fresh store would.
func TestCachedStatementJudgedAfterSchemaChange(t *testing.T) {
	for _, warm := range []bool{true, false} {
		s := openTestStore(t)
		ins := Request{Statements: stmts("INSERT INTO t (v) VALUES (1)")}
		idx := uint64(1)
		applyReq(t, s, idx, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "CREATE TABLE log (n)")})
		if warm {
			idx++
			if r := applyReq(t, s, idx, ins); r.Results[0].Error != "" {
				t.Fatalf("insert: %#v", r)
			}
		}
		idx++
		r := applyReq(t, s, idx, Request{Statements: stmts("CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (total_changes()); END")})
		if r.Results[0].Error != "" {
			t.Fatalf("create trigger: %#v", r)
		}
		idx++
		if r := applyReq(t, s, idx, ins); !strings.Contains(r.Results[0].Error, "not authorized") {
			t.Fatalf("warm=%v: insert firing the trigger: %#v", warm, r)
		}
	}
}

// A read cached by Query (judged as a read, where member functions are
// fine) is still refused by inspect, which judges it as a write.
func TestQueryCacheDoesNotLeakIntoInspect(t *testing.T) {
	s := openTestStore(t)
	req := Request{Statements: stmts("SELECT total_changes()")}
	if _, err := s.Query(context.Background(), req, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.inspect(req); !errors.Is(err, ErrNotDeterministic) {
		t.Fatalf("inspect after the query cached it: %v", err)
	}
}

// Close finalizes every cached statement (SQLite refuses to close a
// connection with live ones), also after a restore swapped the file.
func TestCloseFinalizesCachedStatements(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (a)", "INSERT INTO t VALUES (1)")})
	if _, err := s.Query(context.Background(), Request{Statements: stmts("SELECT * FROM t")}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.swapIn(""); err != nil {
		t.Fatalf("swap in an empty store: %v", err)
	}
	if r := applyReq(t, s, 2, Request{Statements: stmts("SELECT count(*) FROM sqlite_schema WHERE name = 't'")}); r.Results[0].Rows[0][0] != int64(0) {
		t.Fatalf("after restore: %#v", r) // the restored store is empty
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
