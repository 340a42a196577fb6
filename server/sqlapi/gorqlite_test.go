package sqlapi_test

import (
	"strings"
	"testing"

	"github.com/rqlite/gorqlite"
)

// TestGorqliteClient drives the API with gorqlite, rqlite's Go client,
// unchanged: discovery through /status and /nodes, writes, reads at each
// level, named parameters, mixed requests, transactions and errors.
func TestGorqliteClient(t *testing.T) {
	a := newTestAPI(t, 0)
	conn, err := gorqlite.Open(a.url + "/?level=linearizable")
	if err != nil {
		t.Fatalf("open (discovery through /status and /nodes): %v", err)
	}
	defer conn.Close()
	leader, err := conn.Leader()
	if err != nil || leader != strings.TrimPrefix(a.url, "http://") {
		t.Fatalf("leader: %q %v, want %s", leader, err, a.url)
	}

	if _, err := conn.WriteOne("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, score REAL, pic BLOB)"); err != nil {
		t.Fatal(err)
	}
	wr, err := conn.WriteParameterized([]gorqlite.ParameterizedStatement{
		{Query: "INSERT INTO p(name, score) VALUES(?, ?)", Arguments: []any{"ann", 1.25}},
		{Query: "INSERT INTO p(name, score) VALUES(:name, :score)", Arguments: []any{map[string]any{"name": "bob", "score": nil}}},
	})
	if err != nil || len(wr) != 2 || wr[0].LastInsertID != 1 || wr[1].LastInsertID != 2 || wr[1].RowsAffected != 1 {
		t.Fatalf("writes: %+v %v", wr, err)
	}

	for _, level := range []string{"none", "weak", "linearizable", "strong"} {
		cl, err := gorqlite.ParseConsistencyLevel(level)
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.SetConsistencyLevel(cl); err != nil {
			t.Fatal(err)
		}
		qr, err := conn.QueryOneParameterized(gorqlite.ParameterizedStatement{Query: "SELECT id, name, score FROM p WHERE name = ?", Arguments: []any{"ann"}})
		if err != nil {
			t.Fatalf("level %s: %v", level, err)
		}
		var id int64
		var name string
		var score float64
		if !qr.Next() {
			t.Fatalf("level %s: no row", level)
		}
		if err := qr.Scan(&id, &name, &score); err != nil || id != 1 || name != "ann" || score != 1.25 {
			t.Fatalf("level %s: got %d %q %v (%v)", level, id, name, score, err)
		}
		if got := a.db.LastOptions().Level.String(); got != level {
			t.Fatalf("level %s reached the database as %s", level, got)
		}
	}

	qr, err := conn.QueryOne("SELECT score FROM p WHERE id = 2")
	if err != nil || !qr.Next() {
		t.Fatalf("null row: %v", err)
	}
	row, err := qr.Slice()
	if err != nil || row[0] != nil {
		t.Fatalf("NULL: got %v %v", row, err)
	}

	rr, err := conn.Request([]string{"SELECT count(*) FROM p", "DELETE FROM p WHERE id = 2"})
	if err != nil || rr[0].Query == nil || rr[1].Write == nil || rr[1].Write.RowsAffected != 1 {
		t.Fatalf("request: %+v %v", rr, err)
	}

	if err := conn.SetExecutionWithTransaction(true); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Write([]string{"INSERT INTO p(name) VALUES('cy')", "INSERT INTO nosuch VALUES(1)"})
	if err == nil || !strings.Contains(err.Error(), "no such table: nosuch") {
		t.Fatalf("failed transaction: want SQLite's error, got %v", err)
	}
	qr, err = conn.QueryOne("SELECT count(*) FROM p")
	var n int64
	if err != nil || !qr.Next() || qr.Scan(&n) != nil || n != 1 {
		t.Fatalf("after the failed transaction: %d rows (%v), want 1", n, err)
	}

	if _, err := conn.QueueOne("INSERT INTO p(name) VALUES('q')"); err == nil || !strings.Contains(err.Error(), "queued writes") {
		t.Fatalf("queue: want a clear refusal, got %v", err)
	}
}
