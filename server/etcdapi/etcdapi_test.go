package etcdapi_test

import (
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
)

// TestEtcdAPI runs the semantics tests that leave the cluster as they found
// it against one shared three-member cluster. Each area uses its own key
// prefix. Range runs first: its from-key cases read the whole keyspace.
// Tests that crash or restart members start their own clusters (see
// TestWatchFailover, TestLeaseLeaderCrash).
func TestEtcdAPI(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *agenttest.Cluster)
	}{
		{"Range", testRange},
		{"RangeErrors", testRangeErrors},
		{"Put", testPut},
		{"DeleteRange", testDeleteRange},
		{"Txn", testTxn},
		{"TxnErrors", testTxnErrors},
		{"Compact", testCompact},
		{"Headers", testHeaders},
		{"LinearizableRead", testLinearizableRead},
		{"SerializableReadOnFollower", testSerializableReadOnFollower},
		{"WatchAfterWriteOnFollower", testWatchAfterWriteOnFollower},
		{"Watch", testWatch},
		{"Lease", testLease},
		{"LeaseRevokeAtomic", testLeaseRevokeAtomic},
		{"LeaseExpiry", testLeaseExpiry},
		{"Mutex", testMutex},
		{"Election", testElection},
		{"STM", testSTM},
		{"Maintenance", testMaintenance},
		{"Cluster", testCluster},
	} {
		if !t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) }) && testing.Short() {
			break
		}
	}
}
