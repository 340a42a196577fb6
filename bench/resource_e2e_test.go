package bench_test

import (
	"context"
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/bench"
)

// The resource workloads run against an in-process three-member cluster
// through proto-public's client and complete their operations without
// errors; the CAS writes of the owned-keys loop never conflict (each key
// has one writer); every watcher gets every measured write. Counts only.
func TestResourceWorkloadsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := agenttest.Start(t, 3, agenttest.Options{})
	c.Leader()
	for _, tc := range []struct {
		name string
		cfg  bench.Config
	}{
		{"write", bench.Config{Workload: bench.ResourceWrite, Total: 120, Clients: 6, KeySpace: 10}},
		{"write owned keys", bench.Config{Workload: bench.ResourceWrite, Total: 120, Clients: 6, KeySpace: 30, OwnedKeys: true}},
		{"read strong", bench.Config{Workload: bench.ResourceRead, Total: 120, Clients: 6, KeySpace: 100, Preload: true}},
		{"read eventual", bench.Config{Workload: bench.ResourceRead, Total: 120, Clients: 6, KeySpace: 100, ResourceConsistency: bench.Eventual}},
		{"watch", bench.Config{Workload: bench.ResourceWatch, Total: 40, Clients: 2, Watchers: 7, WatchStreams: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Endpoints = c.Endpoints()
			rep, err := bench.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Ops != cfg.Total || rep.Errors != 0 {
				t.Errorf("%d ops ok and %d errors (%v), want %d and 0", rep.Ops, rep.Errors, rep.ErrorsByKind, cfg.Total)
			}
			if cfg.OwnedKeys && rep.Conflicts != 0 {
				t.Errorf("%d conflicts with one writer per key", rep.Conflicts)
			}
			if cfg.Workload == bench.ResourceWatch {
				if rep.Watch == nil || rep.Watch.Events != cfg.Total*int64(cfg.Watchers) {
					t.Errorf("watch stats %+v, want %d events", rep.Watch, cfg.Total*int64(cfg.Watchers))
				}
			}
		})
	}
	// A bad consistency is refused before anything runs.
	_, err := bench.Run(context.Background(), bench.Config{Workload: bench.ResourceRead, Endpoints: c.Endpoints(), ResourceConsistency: "linearizable"})
	if err == nil {
		t.Error("resource-read --consistency linearizable was accepted")
	}
}
