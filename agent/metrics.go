package agent

import (
	"fmt"

	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	"github.com/prometheus/client_golang/prometheus"
)

// registerMetrics puts the node's series (proposals, apply, log fsync,
// snapshots, leader changes) and the kv store's (revision, watchers, watch
// events, leases) on the registry served on /metrics. The faces register
// their own (FaceEnv.Registry) and the server its request metrics.
func registerMetrics(reg prometheus.Registerer, n *node.Node, store *kv.Store) error {
	for _, c := range []prometheus.Collector{n, store} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}
