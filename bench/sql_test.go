package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeSQL is a stand-in for rqlite's HTTP API: it understands exactly the
// statements the SQL workloads send, keeps the rows in a map, and records
// what it was sent.
type fakeSQL struct {
	mu       sync.Mutex
	rows     map[int64]string
	nextID   int64
	paths    map[string]int // path?query -> requests
	failStmt string         // a statement containing this fails
	status   int            // every request answers this status when set
}

func newFakeSQL() *fakeSQL {
	return &fakeSQL{rows: map[int64]string{}, nextID: 1 << 20, paths: map[string]int{}}
}

func (f *fakeSQL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths[r.URL.Path+"?"+r.URL.RawQuery]++
	if f.status != 0 {
		w.WriteHeader(f.status)
		json.NewEncoder(w).Encode(map[string]string{"error": "not today"})
		return
	}
	var stmts []json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&stmts); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	var results []map[string]any
	for _, raw := range stmts {
		var parts []any
		if json.Unmarshal(raw, &parts) != nil {
			var s string
			json.Unmarshal(raw, &s)
			parts = []any{s}
		}
		results = append(results, f.run(parts))
	}
	json.NewEncoder(w).Encode(map[string]any{"results": results})
}

func (f *fakeSQL) run(p []any) map[string]any {
	sql := p[0].(string)
	switch {
	case f.failStmt != "" && strings.Contains(sql, f.failStmt):
		return map[string]any{"error": "no such table: nope"}
	case strings.HasPrefix(sql, "SELECT 1"), strings.HasPrefix(sql, "CREATE TABLE"):
		return map[string]any{}
	case strings.HasPrefix(sql, "SELECT COUNT(*)"):
		return map[string]any{"columns": []string{"n"}, "values": [][]any{{len(f.rows)}}}
	case strings.HasPrefix(sql, "INSERT INTO"):
		f.nextID++
		f.rows[f.nextID] = p[1].(string)
		return map[string]any{"last_insert_id": f.nextID, "rows_affected": 1}
	case strings.HasPrefix(sql, "INSERT OR REPLACE"):
		for i := 1; i+1 < len(p); i += 2 {
			f.rows[int64(p[i].(float64))] = p[i+1].(string)
		}
		return map[string]any{"rows_affected": (len(p) - 1) / 2}
	case strings.HasPrefix(sql, "SELECT v FROM"):
		v, ok := f.rows[int64(p[1].(float64))]
		if !ok {
			return map[string]any{"columns": []string{"v"}}
		}
		return map[string]any{"columns": []string{"v"}, "values": [][]any{{v}}}
	}
	return map[string]any{"error": "fake: unexpected statement " + sql}
}

func runFake(t *testing.T, f *fakeSQL, cfg Config) (*Report, error) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.Endpoints = []string{strings.TrimPrefix(srv.URL, "http://")}
	return Run(context.Background(), cfg)
}

func TestSQLWorkloadsAgainstFake(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		paths []string
	}{
		{"insert", Config{Workload: SQLInsert, Total: 50, Clients: 4}, []string{"/db/execute?"}},
		{"txn", Config{Workload: SQLTxn, Total: 30, Clients: 3, KeySpace: 20, TxnStatements: 3}, []string{"/db/execute?transaction"}},
		{"query none", Config{Workload: SQLQuery, Total: 40, Clients: 4, KeySpace: 100, Preload: true, Level: "none"},
			[]string{"/db/query?level=none"}},
		{"query linearizable", Config{Workload: SQLQuery, Total: 40, Clients: 4, KeySpace: 100, Preload: true},
			[]string{"/db/query?level=linearizable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSQL()
			rep, err := runFake(t, f, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Ops != tc.cfg.Total || rep.Errors != 0 {
				t.Fatalf("%d ops, %d errors (%v), want %d and 0", rep.Ops, rep.Errors, rep.ErrorsByKind, tc.cfg.Total)
			}
			if rep.Conns != tc.cfg.Clients {
				t.Errorf("report says %d conns, want one per client (%d)", rep.Conns, tc.cfg.Clients)
			}
			for _, p := range tc.paths {
				if f.paths[p] < int(tc.cfg.Total) {
					t.Errorf("%d requests to %s, want at least %d (all: %v)", f.paths[p], p, tc.cfg.Total, f.paths)
				}
			}
			switch tc.cfg.Workload {
			case SQLInsert:
				if len(f.rows) != int(tc.cfg.Total) {
					t.Errorf("%d rows inserted, want %d", len(f.rows), tc.cfg.Total)
				}
			case SQLQuery:
				if len(f.rows) != tc.cfg.KeySpace {
					t.Errorf("preload wrote %d rows, want %d", len(f.rows), tc.cfg.KeySpace)
				}
				for id, v := range f.rows {
					if id < 1 || id > int64(tc.cfg.KeySpace) || len(v) != DefaultValueSize {
						t.Fatalf("preloaded row %d = %d bytes, want ids 1..%d with %d-byte values", id, len(v), tc.cfg.KeySpace, DefaultValueSize)
					}
				}
				if rep.Consistency != tc.cfg.withDefaults().Level {
					t.Errorf("report level %q", rep.Consistency)
				}
			}
		})
	}
}

// Failures are counted by kind, never silently as successes: a statement
// error inside a 200 answer, a missing row, and a refused request.
func TestSQLWorkloadErrors(t *testing.T) {
	f := newFakeSQL()
	f.failStmt = "SELECT v FROM"
	rep, err := runFake(t, f, Config{Workload: SQLQuery, Total: 10, Clients: 2, KeySpace: 10, Preload: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ops != 0 || rep.Errors != 10 || rep.ErrorsByKind["statement failed: no such table: nope"] != 10 {
		t.Errorf("statement errors: %d ok, %d errors %v", rep.Ops, rep.Errors, rep.ErrorsByKind)
	}

	f = newFakeSQL() // no preload: every point query misses
	rep, err = runFake(t, f, Config{Workload: SQLQuery, Total: 10, Clients: 2, KeySpace: 10})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 10 || rep.ErrorsByKind[errRowMissing.Error()] != 10 {
		t.Errorf("missing rows: %d errors %v", rep.Errors, rep.ErrorsByKind)
	}

	f = newFakeSQL()
	f.status = http.StatusNotFound
	_, err = runFake(t, f, Config{Workload: SQLInsert, Total: 10})
	if err == nil || !strings.Contains(err.Error(), "does not serve the SQL API") {
		t.Errorf("a member without the SQL API: %v", err)
	}
	f.status = http.StatusServiceUnavailable
	_, err = runFake(t, f, Config{Workload: SQLInsert, Total: 10})
	var se *SQLError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.Msg != "not today" {
		t.Errorf("a refused probe: %v", err)
	}
}

func TestSQLConfigValidation(t *testing.T) {
	base := Config{Workload: SQLQuery, Endpoints: []string{"x:1"}, Clients: 4}
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Level = "serializable" }, "--level"},
		{func(c *Config) { c.Table = "t; DROP TABLE x" }, "--table"},
		{func(c *Config) { c.Conns = 2 }, "--conns does not apply"},
		{func(c *Config) { c.Workload, c.TxnStatements = SQLTxn, 5000 }, "--statements"},
	} {
		c := base
		tc.mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %s", c, err, tc.want)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

// The sql-txn body is valid JSON with TxnStatements upserts of ids in the
// key space, and the value JSON-quoted.
func TestTxnBody(t *testing.T) {
	cfg := Config{Workload: SQLTxn, KeySpace: 7, TxnStatements: 5, ValueSize: 8}.withDefaults()
	r := &runner{cfg: cfg}
	w := newWorker(cfg, 0)
	w.sval = `a"b\c` + "\n"
	var stmts [][]any
	if err := json.Unmarshal(r.txnBody(w), &stmts); err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 5 {
		t.Fatalf("%d statements", len(stmts))
	}
	for _, s := range stmts {
		id := s[1].(float64)
		if len(s) != 3 || !strings.HasPrefix(s[0].(string), "INSERT OR REPLACE INTO bench(id, v)") || id < 1 || id > 7 || s[2] != w.sval {
			t.Errorf("statement %v", s)
		}
	}
}
