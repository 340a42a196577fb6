package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/concord-db/concord/resource"
)

// agentResourceOptions are the agent's flags for the typed resource store
// (Consul's ResourceService and /v1/resource).
type agentResourceOptions struct {
	maxBytes      int
	historyEvents int
	watchBuffer   int
}

func (o *agentResourceOptions) addFlags(f *pflag.FlagSet) {
	f.IntVar(&o.maxBytes, "resource-max-bytes", resource.DefaultMaxResourceBytes, "resources: largest resource accepted, in encoded bytes (at most 64 MiB)")
	f.IntVar(&o.historyEvents, "resource-history-events", resource.DefaultHistoryEvents, "resources: latest writes kept, in memory and in snapshots, for watches to resume from; a resume from before them fails with OutOfRange and the client starts a fresh watch")
	f.IntVar(&o.watchBuffer, "resource-watch-buffer", resource.DefaultWatchBuffer, "resources: matching events a watch may fall behind before it ends with an overflow error (its client resumes)")
}

// config checks the flags and returns the store's settings (the logger is
// filled in by the agent).
func (o *agentResourceOptions) config() (resource.Config, error) {
	cfg := resource.Config{MaxResourceBytes: o.maxBytes, HistoryEvents: o.historyEvents, WatchBuffer: o.watchBuffer}
	if o.maxBytes <= 0 || o.historyEvents <= 0 || o.watchBuffer <= 0 {
		return cfg, fmt.Errorf("--resource-max-bytes (%d), --resource-history-events (%d) and --resource-watch-buffer (%d) must be positive",
			o.maxBytes, o.historyEvents, o.watchBuffer)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("--resource-max-bytes, --resource-history-events, --resource-watch-buffer: %w", err)
	}
	return cfg, nil
}
