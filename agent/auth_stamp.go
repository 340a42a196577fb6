package agent

import (
	"context"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/sqlstore"
)

// Writes are checked again at apply (auth/stamp.go): each API's check puts
// the auth state it saw in the request context, the proposal carries it in
// front of the command (stampNode, quotaNode), and the stores are
// registered on the node behind the apply-side check (the stamped* types
// below), which refuses a write whose check predates an auth change with
// etcd's "revision of auth store is old".
//
// The wrappers embed the stores, so every other method (and every optional
// interface the node looks for: snapshots, rollback, durable index) is the
// store's own; only Apply and ApplyBatch pass through the check.

// stampedKV is the kv store behind the apply-side check.
type stampedKV struct {
	*kv.Store
	auth *auth.Store
}

func (s stampedKV) Apply(index uint64, cmd []byte) []byte {
	return s.auth.GuardApply(index, cmd, s.Store.Apply)
}

func (s stampedKV) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	return s.auth.GuardApplyBatch(index, cmds, s.Store.ApplyBatch)
}

// stampedSQL is the SQL store behind the apply-side check.
type stampedSQL struct {
	*sqlstore.Store
	auth *auth.Store
}

func (s stampedSQL) Apply(index uint64, cmd []byte) []byte {
	return s.auth.GuardApply(index, cmd, s.Store.Apply)
}

func (s stampedSQL) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	return s.auth.GuardApplyBatch(index, cmds, s.Store.ApplyBatch)
}

// stampedResource is the resource store behind the apply-side check.
type stampedResource struct {
	*resource.Store
	auth *auth.Store
}

func (s stampedResource) Apply(index uint64, cmd []byte) []byte {
	return s.auth.GuardApply(index, cmd, s.Store.Apply)
}

func (s stampedResource) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	return s.auth.GuardApplyBatch(index, cmds, s.Store.ApplyBatch)
}

// stampNode is the node as the etcd API sees it: proposals carry the
// stamp of their request's check (auth.Applier).
type stampNode struct {
	*node.Node
	auth *auth.Store
}

func (n stampNode) Apply(ctx context.Context, t node.Type, payload []byte) (node.Result, error) {
	return auth.Applier{Next: n.Node.Apply, Store: n.auth}.Apply(ctx, t, payload)
}

var (
	_ node.BatchApplier        = stampedKV{}
	_ node.RollbackRestorer    = stampedKV{}
	_ node.SnapshotValidator   = stampedKV{}
	_ node.BatchApplier        = stampedSQL{}
	_ node.RollbackRestorer    = stampedSQL{}
	_ node.SnapshotValidator   = stampedSQL{}
	_ node.DurableStateMachine = stampedSQL{}
	_ node.BatchApplier        = stampedResource{}
	_ node.RollbackRestorer    = stampedResource{}
	_ node.SnapshotValidator   = stampedResource{}
)
