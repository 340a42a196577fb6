package sqldriver_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/server/sqlapi/sqlapitest"
)

// benchTxn commits transactions of stmts statements (each an INSERT of a
// random key the client chooses, so concurrent ones do not conflict, then
// a read of it) from parallel clients, and reports conflicts.
func benchTxn(b *testing.B, db *sql.DB, stmts int) {
	exec(b, db, "CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v TEXT)")
	var conflicts int
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tx, err := db.Begin()
			if err != nil {
				b.Error(err)
				return
			}
			for range stmts / 2 {
				k := rand.Int64()
				if _, err = tx.Exec("INSERT INTO kv VALUES (?, 'v')", k); err != nil {
					break
				}
				var v string
				if err = tx.QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil {
					break
				}
			}
			if err == nil {
				err = tx.Commit()
			} else {
				tx.Rollback()
			}
			if err != nil {
				conflicts++
			}
		}
	})
	b.ReportMetric(float64(conflicts), "failed")
}

// BenchmarkTxnStore: transactions on one store without raft (the cost of
// tentative runs and HTTP).
func BenchmarkTxnStore(b *testing.B) {
	for _, n := range []int{2, 10, 40} {
		b.Run(fmt.Sprintf("stmts=%d", n), func(b *testing.B) {
			srv := sqlapitest.StartStore(b)
			db, _ := sql.Open("concord", "concord://"+srv.Addr)
			defer db.Close()
			benchTxn(b, db, n)
		})
	}
}

// BenchmarkTxnCluster: transactions of 4 statements through the members
// of a three-member cluster.
func BenchmarkTxnCluster(b *testing.B) {
	c := agenttest.Start(b, 3, agenttest.Options{})
	db, _ := sql.Open("concord", "concord://"+c.Endpoint(0)+","+c.Endpoint(1)+","+c.Endpoint(2))
	defer db.Close()
	benchTxn(b, db, 4)
}

// BenchmarkExecCluster: single-row inserts outside a transaction through
// the same cluster setup, the baseline for BenchmarkTxnCluster.
func BenchmarkExecCluster(b *testing.B) {
	c := agenttest.Start(b, 3, agenttest.Options{})
	db, _ := sql.Open("concord", "concord://"+c.Endpoint(0)+","+c.Endpoint(1)+","+c.Endpoint(2))
	defer db.Close()
	exec(b, db, "CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)")
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.Exec("INSERT INTO kv VALUES (?, 'v')", rand.Int64()); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
