package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsMove: every series the store exports moves with the work
// it counts.
func TestMetricsMove(t *testing.T) {
	s := openTestStore(t)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(s); err != nil {
		t.Fatal(err)
	}
	applyReq(t, s, 1, Request{Statements: stmts("CREATE TABLE t (v)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)")})
	if _, err := s.Query(context.Background(), Request{Statements: stmts("SELECT * FROM t")}, 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Query(context.Background(), Request{Statements: stmts(
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c")}, 50*time.Millisecond)
	if !errors.Is(err, ErrQueryTimeout) {
		t.Fatalf("err %v", err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		mt := f.GetMetric()[0]
		switch {
		case mt.Gauge != nil:
			values[f.GetName()] = mt.Gauge.GetValue()
		case mt.Histogram != nil:
			values[f.GetName()] = float64(mt.Histogram.GetSampleCount())
		case mt.Counter != nil:
			values[f.GetName()] = mt.Counter.GetValue()
		}
	}
	for name, want := range map[string]float64{
		"concord_sql_statements_applied_total":  3,
		"concord_sql_apply_duration_seconds":    1,
		"concord_sql_query_duration_seconds":    2,
		"concord_sql_queries_interrupted_total": 1,
		"concord_sql_applied_index":             1,
	} {
		if values[name] != want {
			t.Errorf("%s = %v, want %v", name, values[name], want)
		}
	}
	if values["concord_sql_database_size_bytes"] <= 0 {
		t.Errorf("database size %v", values["concord_sql_database_size_bytes"])
	}
}

// BenchmarkQueryPoint measures one point query on a 10k-row table, the
// read path of level=none (run with -cpu 1,4 for concurrency).
func BenchmarkQueryPoint(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cmd, _ := encodeCommand(command{Request: Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
		"INSERT INTO t (v) SELECT printf('value-%d', value) FROM generate_series(1, 10000)")}})
	s.Apply(1, cmd)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			rs, err := s.Query(context.Background(), Request{Statements: []Statement{{SQL: "SELECT v FROM t WHERE id = ?", Positional: []any{int64(i%10000 + 1)}}}}, 0)
			if err != nil || len(rs[0].Rows) != 1 {
				b.Fatal(fmt.Sprint(rs, err))
			}
		}
	})
}

// BenchmarkInspectInsert measures the check every write gets before it is
// proposed (prepare on a pooled read connection, judged by the
// authorizer): the cost Execute adds to a one-row insert.
func BenchmarkInspectInsert(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cmd, _ := encodeCommand(command{Request: Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")}})
	s.Apply(1, cmd)
	req := Request{Statements: []Statement{{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{"x"}}}}
	b.ResetTimer()
	for range b.N {
		if _, err := s.inspect(req); err != nil {
			b.Fatal(err)
		}
	}
}
