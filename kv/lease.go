package kv

import (
	"github.com/benbjohnson/immutable"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// MaxLeaseTTL is the largest TTL, in seconds, a lease may be granted with
// (etcd's lease.MaxLeaseTTL).
const MaxLeaseTTL = 9000000000

// lease is the replicated part of a lease: its granted TTL, the remaining
// TTL of its last checkpoint, and the keys attached to it. Expiry is not
// replicated state: the leader's Lessor decides it and proposes a revoke.
type lease struct {
	id        int64
	ttl       int64 // granted TTL in seconds
	remaining int64 // remaining TTL from the last checkpoint; 0 = none
	keys      *immutable.SortedMap[string, struct{}]
}

type leaseMap = immutable.SortedMap[int64, *lease]

func newLeaseMap() *leaseMap { return immutable.NewSortedMap[int64, *lease](int64Comparer{}) }

func newKeySet() *immutable.SortedMap[string, struct{}] {
	return immutable.NewSortedMap[string, struct{}](stringComparer{})
}

// leaseOp tells the Lessor what apply did to a lease.
type leaseOp struct {
	kind      byte // 'g' grant, 'r' revoke, 'c' checkpoint
	id        int64
	ttl       int64
	remaining int64
}

func (w *writer) attach(id int64, key string) {
	l, ok := w.st.leases.Get(id)
	if !ok {
		return
	}
	n := *l
	n.keys = l.keys.Set(key, struct{}{})
	w.st.leases = w.st.leases.Set(id, &n)
}

func (w *writer) detach(id int64, key string) {
	l, ok := w.st.leases.Get(id)
	if !ok {
		return
	}
	n := *l
	n.keys = l.keys.Delete(key)
	w.st.leases = w.st.leases.Set(id, &n)
}

// grant creates a lease with the ID the proposer chose. TTLs below the
// store's MinLeaseTTL are raised to it, as etcd does.
func (w *writer) grant(r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	if r.ID == 0 {
		return nil, ErrLeaseIDRequired
	}
	if r.TTL > MaxLeaseTTL {
		return nil, ErrLeaseTTLTooLarge
	}
	if _, ok := w.st.leases.Get(r.ID); ok {
		return nil, ErrLeaseExists
	}
	ttl := r.TTL
	if ttl < w.minTTL {
		ttl = w.minTTL
	}
	w.st.leases = w.st.leases.Set(r.ID, &lease{id: r.ID, ttl: ttl, keys: newKeySet()})
	w.leaseOps = append(w.leaseOps, leaseOp{kind: 'g', id: r.ID, ttl: ttl})
	return &pb.LeaseGrantResponse{Header: w.header(), ID: r.ID, TTL: ttl}, nil
}

// revoke deletes the lease and every key attached to it, in key order, in
// one revision.
func (w *writer) revoke(r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	l, ok := w.st.leases.Get(r.ID)
	if !ok {
		return nil, ErrLeaseNotFound
	}
	it := l.keys.Iterator()
	for !it.Done() {
		k, _, _ := it.Next()
		if vs, ok := w.st.keys.Get(k); ok && vs.latest() != nil {
			w.deleteKey(vs)
		}
	}
	w.st.leases = w.st.leases.Delete(r.ID)
	w.leaseOps = append(w.leaseOps, leaseOp{kind: 'r', id: r.ID})
	return &pb.LeaseRevokeResponse{Header: w.header()}, nil
}

// checkpoint records the remaining TTL of leases (unknown IDs are skipped,
// as in etcd), so a new leader does not restart them at their full TTL.
func (w *writer) checkpoint(r *pb.LeaseCheckpointRequest) *pb.LeaseCheckpointResponse {
	for _, cp := range r.Checkpoints {
		if cp == nil {
			continue
		}
		l, ok := w.st.leases.Get(cp.ID)
		if !ok {
			continue
		}
		n := *l
		n.remaining = cp.Remaining_TTL
		w.st.leases = w.st.leases.Set(cp.ID, &n)
		w.leaseOps = append(w.leaseOps, leaseOp{kind: 'c', id: cp.ID, ttl: l.ttl, remaining: cp.Remaining_TTL})
	}
	return &pb.LeaseCheckpointResponse{Header: w.header()}
}

// LeaseInfo describes a lease as the replicated state knows it.
type LeaseInfo struct {
	ID int64
	// TTL is the granted TTL in seconds.
	TTL int64
	// RemainingTTL is the remaining TTL recorded by the last checkpoint, or
	// 0 when the lease has not been checkpointed since it was granted or
	// renewed.
	RemainingTTL int64
}

// leaseTimeToLive answers LeaseTimeToLive from the replicated state: TTL is
// the checkpointed remaining TTL or, without one, the granted TTL. Only the
// leader's Lessor knows the true remaining time; the server should prefer
// Lessor.TimeToLive there.
func leaseTimeToLive(st *state, id int64, keys bool) (*pb.LeaseTimeToLiveResponse, error) {
	l, ok := st.leases.Get(id)
	if !ok {
		return nil, ErrLeaseNotFound
	}
	resp := &pb.LeaseTimeToLiveResponse{Header: &pb.ResponseHeader{Revision: st.rev}, ID: id, TTL: l.ttl, GrantedTTL: l.ttl}
	if l.remaining > 0 {
		resp.TTL = l.remaining
	}
	if keys {
		resp.Keys = make([][]byte, 0, l.keys.Len())
		it := l.keys.Iterator()
		for !it.Done() {
			k, _, _ := it.Next()
			resp.Keys = append(resp.Keys, []byte(k))
		}
	}
	return resp, nil
}

func leaseInfos(st *state) []LeaseInfo {
	out := make([]LeaseInfo, 0, st.leases.Len())
	it := st.leases.Iterator()
	for !it.Done() {
		_, l, _ := it.Next()
		out = append(out, LeaseInfo{ID: l.id, TTL: l.ttl, RemainingTTL: l.remaining})
	}
	return out
}
