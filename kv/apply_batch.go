package kv

import "github.com/concord-db/concord/node"

var _ node.BatchApplier = (*Store)(nil)

// ApplyBatch applies the commands of one log entry as Apply(index, cmd)
// would for each in order: the same results, revisions, watch events and
// lease changes. It is cheaper for many commands: they all write one
// transient key index (see internal/btree), so a node of the index is copied at
// most once per batch rather than once per put, and the state is published
// once, at the end. Readers see none of the batch until all of it is
// applied. With no commands it changes nothing.
func (s *Store) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	switch len(cmds) {
	case 0:
		return nil
	case 1:
		return [][]byte{s.Apply(index, cmds[0])} // nothing to amortize
	}
	s.applyM.Lock()
	defer s.applyM.Unlock()
	b := newBatch(s.cur.Load(), index, s.opts.MinLeaseTTL, len(cmds))
	results := make([][]byte, len(cmds))
	for i, cmd := range cmds {
		results[i] = b.apply(cmd)
	}
	st := b.finish()
	s.cur.Store(st)
	// Watchers get each revision in order, as after sequential Applys; the
	// published state already holds them all, as catch-up requires.
	for _, r := range b.revs {
		s.hub.notify(r.rev, r.changes)
	}
	if len(b.leaseOps) > 0 {
		s.metrics.countLeaseOps(b.leaseOps)
		if s.opts.Lessor != nil {
			s.opts.Lessor.applied(b.leaseOps)
		}
	}
	return results
}

// batch is the running, unpublished state of an ApplyBatch.
type batch struct {
	st       state // keys is transient until finish
	index    uint64
	minTTL   int64
	revs     []revChanges
	leaseOps []leaseOp
}

// revChanges is what one command gives hub.notify.
type revChanges struct {
	rev     int64
	changes []change
}

func newBatch(base *state, index uint64, minLeaseTTL int64, n int) *batch {
	b := &batch{st: *base, index: index, minTTL: minLeaseTTL, revs: make([]revChanges, 0, n)}
	b.st.keys = base.keys.Transient()
	return b
}

// apply runs one command on the running state and returns its result. A
// command that fails leaves the state as it was: its writes to the shared
// transient index are rolled back, the rest of its writer discarded.
//
// The writer's base and working state share the transient index, so the
// command's writes show through base at once. That is safe because every
// read of base.keys (txn compares and pre-checks) happens before the
// command's first write.
func (b *batch) apply(cmd []byte) []byte {
	k, req, err := DecodeCommand(cmd)
	if err != nil {
		return encodeError(err)
	}
	b.st.keys.Track()
	w := newWriter(&b.st, b.minTTL)
	resp, err := w.exec(k, req)
	if err != nil {
		b.st.keys.Rollback()
		return encodeError(err)
	}
	b.st = *w.finish(b.index)
	if len(w.changes) > 0 {
		b.revs = append(b.revs, revChanges{rev: b.st.rev, changes: w.changes})
	}
	b.leaseOps = append(b.leaseOps, w.leaseOps...)
	return encodeResult(k, resp)
}

// finish freezes the running state for publishing.
func (b *batch) finish() *state {
	st := b.st
	st.keys.Freeze()
	st.index = b.index
	return &st
}
