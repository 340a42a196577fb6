package agent

import (
	"context"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
)

// quotaNode is the node as the SQL and resource faces see it: every
// proposal the face's grows says may grow its state is first checked by
// the space quota's guard (kv.Guard: etcd's --quota-backend-bytes and the
// NOSPACE alarm), so one alarm refuses writes on every API. The cost
// charged is the payload's size against the kv state's Size, which is all
// the quota measures; what matters for these faces is that while NOSPACE
// is raised their writes are refused before the log with kv.ErrNoSpace.
//
// Proposals also carry the auth stamp of their request's check
// (auth.Applier, auth_stamp.go), so that apply refuses a write checked
// before an auth change.
type quotaNode struct {
	*node.Node
	guard *kv.Guard
	grows func(payload []byte) bool
	auth  *auth.Store
}

// guardedNode returns env's node with Apply guarded by env.Quota for every
// payload grows says may grow the face's state (nil: every payload).
func guardedNode(env FaceEnv, grows func(payload []byte) bool) quotaNode {
	return quotaNode{Node: env.Node, guard: env.Quota, grows: grows, auth: env.Auth}
}

// Apply checks the guard, then proposes.
func (q quotaNode) Apply(ctx context.Context, t node.Type, payload []byte) (node.Result, error) {
	if q.grows == nil || q.grows(payload) {
		if err := q.guard.Check(ctx, int64(len(payload))); err != nil {
			return node.Result{}, err
		}
	}
	return auth.Applier{Next: q.Node.Apply, Store: q.auth}.Apply(ctx, t, payload)
}
