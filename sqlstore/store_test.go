package sqlstore

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// applyReq encodes req, applies it at index and decodes the result.
func applyReq(t *testing.T, s *Store, index uint64, req Request) applyResult {
	t.Helper()
	b, err := encodeCommand(command{Timestamp: 1_700_000_000_000_000_000, Seed: 42, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeResult(s.Apply(index, b))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func stmts(sql ...string) []Statement {
	out := make([]Statement, len(sql))
	for i, q := range sql {
		out[i] = Statement{SQL: q}
	}
	return out
}

func TestApplySemantics(t *testing.T) {
	s := openTestStore(t)
	var idx uint64
	next := func() uint64 { idx++; return idx }
	r := applyReq(t, s, next(), Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v ANY, name TEXT)")})
	if r.Err != "" || r.Results[0].Error != "" {
		t.Fatalf("create: %#v", r)
	}
	big := int64(1<<53 + 1)
	cases := []struct {
		name string
		st   Statement
		want any
	}{
		{"null", Statement{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{nil}}, nil},
		{"int past 2^53", Statement{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{big}}, big},
		{"max int64", Statement{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{int64(math.MaxInt64)}}, int64(math.MaxInt64)},
		{"float", Statement{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{0.1}}, 0.1},
		{"text", Statement{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{"héllo"}}, "héllo"},
		{"blob", Statement{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{[]byte{0, 255, 1}}}, []byte{0, 255, 1}},
		{"bool", Statement{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{true}}, int64(1)},
		{"named colon", Statement{SQL: "INSERT INTO t (v) VALUES (:val)", Named: map[string]any{"val": "n1"}}, "n1"},
		{"named with prefix", Statement{SQL: "INSERT INTO t (v) VALUES ($val)", Named: map[string]any{"$val": int64(5)}}, int64(5)},
	}
	for _, c := range cases {
		r := applyReq(t, s, next(), Request{Statements: []Statement{c.st}})
		if r.Err != "" || len(r.Results) != 1 || r.Results[0].Error != "" {
			t.Fatalf("%s: insert: %#v", c.name, r)
		}
		id := r.Results[0].LastInsertID
		if r.Results[0].RowsAffected != 1 || id == 0 {
			t.Fatalf("%s: result %#v", c.name, r.Results[0])
		}
		q := applyReq(t, s, next(), Request{Statements: []Statement{{SQL: "SELECT v FROM t WHERE id = ?", Positional: []any{id}}}})
		res := q.Results[0]
		if res.Error != "" || !res.ReadOnly || len(res.Rows) != 1 || !reflect.DeepEqual(res.Rows[0][0], c.want) {
			t.Fatalf("%s: read back %#v, want %#v", c.name, res, c.want)
		}
		if !reflect.DeepEqual(res.Columns, []string{"v"}) || !reflect.DeepEqual(res.Types, []string{"any"}) {
			t.Fatalf("%s: columns %v types %v", c.name, res.Columns, res.Types)
		}
	}

	paramErrs := []Statement{
		{SQL: "INSERT INTO t (v) VALUES (?)"},
		{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{int64(1), int64(2)}},
		{SQL: "INSERT INTO t (v) VALUES (:a)", Named: map[string]any{"b": int64(1)}},
	}
	for _, st := range paramErrs {
		r := applyReq(t, s, next(), Request{Statements: []Statement{st}})
		if !strings.Contains(r.Results[0].Error, "parameters do not match") {
			t.Fatalf("%q %v %v: error %q", st.SQL, st.Positional, st.Named, r.Results[0].Error)
		}
	}

	r = applyReq(t, s, next(), Request{Statements: stmts("SELECT * FROM nope")})
	if r.Results[0].Error != "no such table: nope" { // SQLite's own text, as rqlite reports it
		t.Fatalf("sqlite error text: %q", r.Results[0].Error)
	}
}

func countRows(t *testing.T, s *Store, idx uint64, table string) int64 {
	t.Helper()
	r := applyReq(t, s, idx, Request{Statements: stmts("SELECT count(*) FROM " + table)})
	if r.Results[0].Error != "" {
		t.Fatal(r.Results[0].Error)
	}
	return r.Results[0].Rows[0][0].(int64)
}

func TestApplyTransactionAllOrNothing(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY)")})
	r := applyReq(t, s, 2, Request{Transaction: true, Statements: stmts(
		"INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)")})
	if len(r.Results) != 2 || r.Results[0].Error != "" || !strings.Contains(r.Results[1].Error, "UNIQUE constraint failed") {
		t.Fatalf("transaction results: %#v", r)
	}
	if n := countRows(t, s, 3, "t"); n != 0 {
		t.Fatalf("rows after failed transaction: %d, want 0", n)
	}
	if s.AppliedIndex() != 3 {
		t.Fatalf("applied index %d", s.AppliedIndex())
	}
}

func TestApplyWithoutTransactionEachStandsAlone(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY)")})
	r := applyReq(t, s, 2, Request{Statements: stmts(
		"INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)")})
	if len(r.Results) != 3 || r.Results[0].Error != "" || r.Results[1].Error == "" || r.Results[2].Error != "" {
		t.Fatalf("results: %#v", r)
	}
	if n := countRows(t, s, 3, "t"); n != 2 {
		t.Fatalf("rows: %d, want 2", n)
	}
}

func TestApplySkipsAppliedIndexAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (id INTEGER)")})
	applyReq(t, s, 2, Request{Statements: stmts("INSERT INTO t VALUES (1)")})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.AppliedIndex() != 2 {
		t.Fatalf("applied index after reopen %d, want 2", s.AppliedIndex())
	}
	r := applyReq(t, s, 2, Request{Statements: stmts("INSERT INTO t VALUES (1)")})
	if !strings.HasPrefix(r.Err, ErrResultUnavailable.Error()) {
		t.Fatalf("replayed index: %#v", r)
	}
	if n := countRows(t, s, 3, "t"); n != 1 {
		t.Fatalf("rows %d, want 1 (replay must not re-run)", n)
	}
}

func TestApplyBadCommandConsumesIndex(t *testing.T) {
	s := openTestStore(t)
	r, err := decodeResult(s.Apply(1, []byte{0xff}))
	if err != nil || !strings.Contains(r.Err, "malformed command") {
		t.Fatalf("bad command: %#v %v", r, err)
	}
	if s.AppliedIndex() != 1 {
		t.Fatalf("applied index %d", s.AppliedIndex())
	}
}
