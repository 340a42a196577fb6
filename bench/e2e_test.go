package bench_test

import (
	"context"
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/bench"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Every workload runs against an in-process three-member cluster and
// completes its operations without errors. Counts only: benchmarks are
// measurements, never timed assertions.
func TestWorkloadsEndToEnd(t *testing.T) {
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
		{"fill", bench.Config{Workload: bench.Fill, KeySpace: 250, Batch: 20, Clients: 3}},
		{"put", bench.Config{Workload: bench.Put, Total: 120, Clients: 6, KeySpace: 50}},
		{"put open loop", bench.Config{Workload: bench.Put, Total: 60, Clients: 4, Rate: 500}},
		{"get linearizable", bench.Config{Workload: bench.Get, Total: 120, Clients: 6, KeySpace: 100, Preload: true}},
		{"get serializable", bench.Config{Workload: bench.Get, Total: 120, Clients: 6, KeySpace: 100, Consistency: bench.Serializable}},
		{"mixed", bench.Config{Workload: bench.Mixed, Total: 120, Clients: 6, ReadRatio: 0.5, KeySpace: 100, Preload: true}},
		{"txn-cas", bench.Config{Workload: bench.TxnCAS, Total: 90, Clients: 3, KeySpace: 1000}},
		{"lease-keepalive", bench.Config{Workload: bench.LeaseKeepAlive, Total: 60, Clients: 3}},
		{"watch", bench.Config{Workload: bench.Watch, Total: 40, Clients: 2, Watchers: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Endpoints = eps
			cfg.Prefix = "e2e/" + tc.name + "/"
			if cfg.Workload == bench.Get && !cfg.Preload {
				cfg.Prefix = "e2e/get linearizable/" // preloaded by the previous case
			}
			rep, err := bench.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := cfg.Total
			if cfg.Workload == bench.Fill {
				want = int64((cfg.KeySpace + cfg.Batch - 1) / cfg.Batch)
			}
			if rep.Ops != want || rep.Errors != 0 {
				t.Errorf("%d ops ok and %d errors (%v), want %d and 0", rep.Ops, rep.Errors, rep.ErrorsByKind, want)
			}
			if rep.Conns != min(cfg.Clients, 3) || len(rep.Endpoints) != min(cfg.Clients, 3) {
				t.Errorf("load on %d conns to %v, want spread over %d endpoints", rep.Conns, rep.Endpoints, min(cfg.Clients, 3))
			}
			if cfg.Workload == bench.Watch {
				if rep.Watch == nil || rep.Watch.Events != rep.Watch.Expected || rep.Watch.Expected != want*int64(cfg.Watchers) {
					t.Errorf("watch stats %+v, want %d events", rep.Watch, want*int64(cfg.Watchers))
				}
			}
		})
	}
	// Every key of the fill is there.
	cli := c.Client()
	resp, err := cli.Get(context.Background(), "e2e/fill/k/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 250 {
		t.Errorf("fill wrote %v keys (%v), want 250", resp, err)
	}
}
