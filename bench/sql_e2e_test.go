package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/bench"
)

// The SQL workloads run against an in-process three-member cluster's SQL
// API (every member, so followers forward the writes) and complete their
// operations without errors. Counts only, never timed assertions.
func TestSQLWorkloadsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := agenttest.Start(t, 3, agenttest.Options{})
	c.Leader()
	eps := c.Endpoints()
	for _, tc := range []struct {
		name string
		cfg  bench.Config
	}{
		{"insert", bench.Config{Workload: bench.SQLInsert, Total: 90, Clients: 6}},
		{"insert open loop", bench.Config{Workload: bench.SQLInsert, Total: 40, Clients: 3, Rate: 400}},
		{"txn", bench.Config{Workload: bench.SQLTxn, Total: 60, Clients: 3, KeySpace: 50, TxnStatements: 3}},
		{"query linearizable", bench.Config{Workload: bench.SQLQuery, Total: 90, Clients: 6, KeySpace: 200, Preload: true}},
		{"query none", bench.Config{Workload: bench.SQLQuery, Total: 60, Clients: 3, KeySpace: 200, Level: "none"}},
		{"query weak", bench.Config{Workload: bench.SQLQuery, Total: 60, Clients: 3, KeySpace: 200, Level: "weak"}},
		{"query strong", bench.Config{Workload: bench.SQLQuery, Total: 30, Clients: 3, KeySpace: 200, Level: "strong"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Endpoints, cfg.Table = eps, "e2e"
			if cfg.Workload == bench.SQLQuery && !cfg.Preload {
				// Rows preloaded by the linearizable case; level none reads
				// a follower, so wait until every member applied them.
				target := c.Agent(c.Leader()).Node.Status().CommitIndex
				c.WaitFor(30*time.Second, "every member applied the preload", func() bool {
					for i := range c.Size() {
						if c.Agent(i).Node.AppliedIndex() < target {
							return false
						}
					}
					return true
				})
			}
			rep, err := bench.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Ops != cfg.Total || rep.Errors != 0 {
				t.Errorf("%d ops ok and %d errors (%v), want %d and 0", rep.Ops, rep.Errors, rep.ErrorsByKind, cfg.Total)
			}
			if len(rep.Endpoints) != 3 {
				t.Errorf("load on %v, want all three members", rep.Endpoints)
			}
		})
	}
}
