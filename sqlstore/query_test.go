package sqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestQueryReadsLocalState(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t (v) VALUES ('a')")})
	rs, err := s.Query(context.Background(), Request{Statements: []Statement{{SQL: "SELECT v FROM t WHERE id = ?", Positional: []any{int64(1)}}}}, 0)
	if err != nil || len(rs) != 1 || len(rs[0].Rows) != 1 || rs[0].Rows[0][0] != "a" {
		t.Fatalf("query: %#v %v", rs, err)
	}
}

func TestQueryRefusesWrites(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY)")})
	rs, err := s.Query(context.Background(), Request{Statements: stmts("INSERT INTO t VALUES (1)")}, 0)
	if err != nil || !strings.Contains(rs[0].Error, "readonly") {
		t.Fatalf("write as query: %#v %v", rs, err)
	}
}

func TestQueryTimeoutInterrupts(t *testing.T) {
	s := openTestStore(t)
	start := time.Now()
	_, err := s.Query(context.Background(), Request{Statements: stmts(
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c")}, 100*time.Millisecond)
	if !errors.Is(err, ErrQueryTimeout) {
		t.Fatalf("err %v, want ErrQueryTimeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("interrupt took %v", d)
	}
}

func TestQueryRefusesTooManyStatements(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir(), MaxStatements: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Query(context.Background(), Request{Statements: stmts("SELECT 1", "SELECT 2", "SELECT 3")}, 0); !errors.Is(err, ErrTooManyStatements) {
		t.Fatalf("err %v", err)
	}
}
