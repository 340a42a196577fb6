package sqlstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/concord-db/concord/node"
)

// BenchmarkRestartLarge measures the restart of a one-member cluster whose
// SQL database holds CONCORD_SQL_RESTART_MIB MiB (default 64), with a
// snapshot that holds it all and a short log tail after it: the time from
// opening the store to the node being ready, the part of it spent in the
// store's Open (its PRAGMA quick_check), and quick_check alone. The data
// dir is CONCORD_SQL_RESTART_DIR when set (built on the first run, reused
// after, so two builds can be compared on the same data), else a temp dir.
//
//	CONCORD_SQL_RESTART_MIB=1024 CONCORD_SQL_RESTART_DIR=/tmp/big \
//	  go test -run '^$' -bench BenchmarkRestartLarge -benchtime 1x ./sqlstore/
func BenchmarkRestartLarge(b *testing.B) {
	mib := 64
	if v := os.Getenv("CONCORD_SQL_RESTART_MIB"); v != "" {
		var err error
		if mib, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	dir := os.Getenv("CONCORD_SQL_RESTART_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	if _, err := os.Stat(filepath.Join(dir, "built")); err != nil {
		buildLarge(b, dir, mib)
	}
	for i := 0; i < b.N; i++ {
		qc := timeQuickCheck(b, filepath.Join(dir, "sql", dbFileName))
		b.ReportMetric(qc.Seconds(), "quick_check_s")
		start := time.Now()
		n, s := startBenchNode(b, dir)
		opened := time.Since(start)
		<-n.Ready()
		ready := time.Since(start)
		b.ReportMetric(opened.Seconds(), "open_s")
		b.ReportMetric(ready.Seconds(), "restart_s")
		fi, _ := os.Stat(filepath.Join(dir, "sql", dbFileName))
		b.Logf("database %d MiB: quick_check %v; restart: store open + node start %v, ready %v (applied %d)",
			fi.Size()>>20, qc, opened, ready, s.AppliedIndex())
		n.Crash()
		s.Close()
	}
}

// startBenchNode opens the store in dir/sql and starts a one-member node
// on dir/node with it registered; the returned time includes both.
func startBenchNode(b *testing.B, dir string) (*node.Node, *Store) {
	b.Helper()
	logger := slog.New(slog.DiscardHandler)
	s, err := Open(Config{Dir: filepath.Join(dir, "sql"), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.PeerAddr, cfg.Bootstrap = "n1", filepath.Join(dir, "node"), "127.0.0.1:0", true
	if a, err := os.ReadFile(filepath.Join(dir, "addr")); err == nil {
		cfg.PeerAddr = string(a)
	}
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 200*time.Millisecond, 200*time.Millisecond
	cfg.ApplyTimeout = 10 * time.Minute
	cfg.Logger = logger
	n, err := node.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Register(node.TypeSQL, s); err != nil {
		b.Fatal(err)
	}
	if err := n.Start(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "addr"), []byte(n.PeerAddr()), 0o600); err != nil {
		b.Fatal(err)
	}
	return n, s
}

// buildLarge fills a one-member cluster in dir with mib MiB of rows
// through the log (each command a recursive INSERT of 64 MiB of
// randomblob), snapshots it, and leaves a tail of small commands.
func buildLarge(b *testing.B, dir string, mib int) {
	b.Helper()
	start := time.Now()
	for _, sub := range []string{"sql", "node"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	n, s := startBenchNode(b, dir)
	<-n.Ready()
	ctx := context.Background()
	apply := func(sql string) {
		c, err := encodeCommand(command{Timestamp: time.Now().UnixNano(), Seed: uint64(time.Now().UnixNano()), Request: Request{Statements: []Statement{{SQL: sql}}}})
		if err != nil {
			b.Fatal(err)
		}
		res, err := n.Apply(ctx, node.TypeSQL, c)
		if err != nil {
			b.Fatal(err)
		}
		if r, err := decodeResult(res.Data); err != nil || r.Err != "" || r.Results[0].Error != "" {
			b.Fatalf("%s: %v %#v", sql, err, r)
		}
	}
	apply("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
	for done := 0; done < mib; done += 64 {
		rows := min(64, mib-done) * 256 // 4 KiB each
		apply(fmt.Sprintf("INSERT INTO t (b) SELECT randomblob(4000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d) SELECT x FROM c)", rows))
	}
	if _, err := n.WriteSnapshot(ctx, io.Discard); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		apply(fmt.Sprintf("INSERT INTO t (b) VALUES (x'%02x')", i))
	}
	n.Crash()
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, "built"), nil, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d MiB in %v", mib, time.Since(start))
}

func timeQuickCheck(b *testing.B, path string) time.Duration {
	b.Helper()
	start := time.Now()
	conn, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READONLY)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec("PRAGMA quick_check"); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkApplySynchronous compares the apply connection's durability
// settings for one-row inserts of 256 bytes applied one command per entry
// (one commit each) and 64 commands per entry (ApplyBatch): NORMAL with
// checkpoints on the background connection (what Open sets up), NORMAL
// with SQLite's default checkpoints inside the apply commit every 1000
// WAL pages, and OFF (no sync at all, checkpoints inside the apply). It
// reports the rate and the 99th percentile and worst time of one
// ApplyBatch, where checkpoint syncs on the apply path show.
//
//	go test -run '^$' -bench BenchmarkApplySynchronous -benchtime 20000x ./sqlstore/
func BenchmarkApplySynchronous(b *testing.B) {
	cmd, err := encodeCommand(command{Timestamp: 1, Seed: 1, Request: Request{Statements: []Statement{
		{SQL: "INSERT INTO t (v) VALUES (?)", Positional: []any{string(make([]byte, 256))}}}}})
	if err != nil {
		b.Fatal(err)
	}
	modes := []struct {
		name, sync string
		inline     bool
	}{
		{"NORMAL-background", "NORMAL", false},
		{"NORMAL-inline", "NORMAL", true},
		{"OFF-inline", "OFF", true},
	}
	for _, mode := range modes {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", mode.name, batch), func(b *testing.B) {
				s, err := Open(Config{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if mode.inline {
					s.ckpt.stop()
					if err := s.conn.Exec("PRAGMA wal_autocheckpoint=1000"); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.conn.Exec("PRAGMA synchronous=" + mode.sync); err != nil {
					b.Fatal(err)
				}
				create, _ := encodeCommand(command{Request: Request{Statements: []Statement{{SQL: "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"}}}})
				s.Apply(1, create)
				cmds := make([][]byte, batch)
				for i := range cmds {
					cmds[i] = cmd
				}
				var took []time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i += batch {
					t0 := time.Now()
					s.ApplyBatch(uint64(i+2), cmds)
					took = append(took, time.Since(t0))
				}
				b.StopTimer()
				slices.Sort(took)
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99_µs")
				b.ReportMetric(float64(took[len(took)-1].Microseconds()), "max_µs")
			})
		}
	}
}
