package kv

import (
	"unsafe"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// change is one key modification made by a write: cur is the new version or
// tombstone, prev the live version it replaced (nil when the key was created).
type change struct {
	cur, prev *rec
}

// writer derives the next state from base for one command. Every write of
// one command shares one revision (base.rev+1), each with the next
// sub-revision (its position in changes). A command that changes nothing
// leaves the revision alone. Compares and pre-checks read base; reads inside
// a txn read the working state st and so see the txn's own earlier writes,
// as in etcd. Under ApplyBatch, base and st share one transient key index
// that writes change in place: read base.keys only before the first write.
type writer struct {
	base     *state
	st       state
	changes  []change
	leaseOps []leaseOp
	minTTL   int64
	// budget caps the ranges of a read-only txn (readTxnCapped); nil in
	// apply, whose results must not depend on a member's settings.
	budget *readBudget
}

func newWriter(base *state, minLeaseTTL int64) *writer {
	return &writer{base: base, st: *base, minTTL: minLeaseTTL}
}

// rev is the revision the txn's writes carry.
func (w *writer) writeRev() int64 { return w.base.rev + 1 }

func (w *writer) header() *pb.ResponseHeader { return &pb.ResponseHeader{Revision: w.st.rev} }

// finish returns the state to publish, with the new versions appended to the
// revision log.
func (w *writer) finish(index uint64) *state {
	st := w.st
	st.index = index
	if len(w.changes) > 0 {
		log := w.base.log
		for _, c := range w.changes {
			log = append(log, c.cur)
		}
		st.log = log
	}
	return &st
}

// ownedString turns bytes decoded from a command (which nothing else
// references) into a string without copying them.
func ownedString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// put implements etcd's put: the lease must exist; ignore_value and
// ignore_lease need an existing key and keep its value or lease.
func (w *writer) put(p *pb.PutRequest) (*pb.PutResponse, error) {
	key := ownedString(p.Key)
	leaseID := p.Lease
	if leaseID != 0 {
		if _, ok := w.st.leases.Get(leaseID); !ok {
			return nil, ErrLeaseNotFound
		}
	}
	vs, _ := w.st.keys.Get(key)
	prev := vs.latest()
	if (p.IgnoreValue || p.IgnoreLease) && prev == nil {
		return nil, ErrKeyNotFound
	}
	value := ownedString(p.Value)
	if p.IgnoreValue {
		value = prev.value
	}
	if p.IgnoreLease {
		leaseID = prev.lease
	}
	resp := &pb.PutResponse{}
	if p.PrevKv && prev != nil {
		resp.PrevKv = prev.toPB(false)
	}
	rev := w.writeRev()
	r := &rec{key: key, value: value, create: rev, mod: rev, version: 1, lease: leaseID}
	if prev != nil {
		key = prev.key // share one copy of the key bytes across versions
		r.key, r.create, r.version = key, prev.create, prev.version+1
	}
	w.st.keys = w.st.keys.Set(key, append(vs, r))
	w.st.size += recSize(r)
	w.st.rev = rev
	w.changes = append(w.changes, change{cur: r, prev: prev})
	if prev != nil && prev.lease != 0 && prev.lease != leaseID {
		w.detach(prev.lease, key)
	}
	if leaseID != 0 && (prev == nil || prev.lease != leaseID) {
		w.attach(leaseID, key)
	}
	resp.Header = w.header()
	return resp, nil
}

// deleteRange implements etcd's DeleteRange: it tombstones every live key in
// the range; the header revision is bumped only if the command changed
// something.
func (w *writer) deleteRange(d *pb.DeleteRangeRequest) *pb.DeleteRangeResponse {
	resp := &pb.DeleteRangeResponse{}
	var live []versions
	scan(w.st.keys, mkSpan(d.Key, d.RangeEnd), func(_ string, vs versions) bool {
		if vs.latest() != nil {
			live = append(live, vs)
		}
		return true
	})
	for _, vs := range live {
		prev := w.deleteKey(vs)
		if d.PrevKv {
			resp.PrevKvs = append(resp.PrevKvs, prev.toPB(false))
		}
	}
	resp.Deleted = int64(len(live))
	resp.Header = w.header()
	return resp
}

// deleteKey tombstones a key whose history is vs (latest version live) and
// returns the deleted version.
func (w *writer) deleteKey(vs versions) *rec {
	prev := vs[len(vs)-1]
	rev := w.writeRev()
	t := &rec{key: prev.key, mod: rev}
	w.st.keys = w.st.keys.Set(prev.key, append(vs, t))
	w.st.size += recSize(t)
	w.st.rev = rev
	w.changes = append(w.changes, change{cur: t, prev: prev})
	if prev.lease != 0 {
		w.detach(prev.lease, prev.key)
	}
	return prev
}

// events converts changes to watch events (shared, read-only).
func eventOf(c *change, withPrev bool) *mvccpb.Event {
	ev := &mvccpb.Event{Kv: c.cur.toPB(false)}
	if c.cur.tombstone() {
		ev.Type = mvccpb.DELETE
	}
	if withPrev && c.prev != nil {
		ev.PrevKv = c.prev.toPB(false)
	}
	return ev
}
