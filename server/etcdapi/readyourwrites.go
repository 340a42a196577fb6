package etcdapi

import (
	"context"
	"sync/atomic"
)

// ackedIndex is the highest log index of a write this member has answered.
//
// A write answers as soon as the leader has applied it: the leader's result
// is the result, so the member that took the request need not apply it
// first. Waiting for that (as etcd does) costs a follower up to raft's
// CommitTimeout on a quiet cluster, because hashicorp/raft tells followers
// the new commit index only with the next AppendEntries. Instead, reads
// that do not go through the read barrier (serializable ranges and
// read-only txns, watches starting "now") wait here until this member has
// applied every write it acknowledged, which keeps etcd's read-your-writes
// on one member. Linearizable reads need nothing more: their read index is
// at least the commit index of every acknowledged write.
type ackedIndex struct{ v atomic.Uint64 }

// advance records that the write at index was acknowledged.
func (a *ackedIndex) advance(index uint64) {
	for {
		cur := a.v.Load()
		if index <= cur || a.v.CompareAndSwap(cur, index) {
			return
		}
	}
}

// readFence waits until this member has applied every write it acknowledged.
func (a *API) readFence(ctx context.Context) error {
	return a.node.WaitApplied(ctx, a.acked.v.Load())
}
