package sqlstore

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkApplyInsert is what every member spends applying one
// single-row insert (the sql-insert workload's entry): decode, the batch's
// transaction, the command's savepoint, the statement, the meta rows.
func BenchmarkApplyInsert(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	create, _ := encodeCommand(command{Request: Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")}})
	s.Apply(1, create)
	val := strings.Repeat("x", 256)
	b.ResetTimer()
	for i := range b.N {
		cmd, _ := encodeCommand(command{Timestamp: int64(i), Request: Request{Statements: []Statement{{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{val}}}}})
		out := s.ApplyBatch(uint64(i+2), [][]byte{cmd})
		if r, err := decodeResult(out[0]); err != nil || r.Err != "" || r.Results[0].Error != "" {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkQueryPointSerial is one point query at a time on a pooled
// read connection (BenchmarkQueryPoint runs them in parallel).
func BenchmarkQueryPointSerial(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cmd, _ := encodeCommand(command{Request: Request{Statements: stmts("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
		"INSERT INTO t (v) SELECT printf('value-%d', value) FROM generate_series(1, 10000)")}})
	s.Apply(1, cmd)
	b.ResetTimer()
	for i := range b.N {
		rs, err := s.Query(context.Background(), Request{Statements: []Statement{{SQL: "SELECT v FROM t WHERE id = ?", Positional: []any{int64(i%10000 + 1)}}}}, 0)
		if err != nil || len(rs[0].Rows) != 1 {
			b.Fatal(rs, err)
		}
	}
}
