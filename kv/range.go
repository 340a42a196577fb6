package kv

import (
	"cmp"
	"sort"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// rangeKeys evaluates a RangeRequest against st, with etcd's semantics
// (server/etcdserver/txn executeRange + mvcc rangeKeys):
//   - range_end empty: the single key; "\x00": every key >= key; otherwise
//     [key, range_end), empty when range_end <= key.
//   - revision 0 reads the current revision; above it ErrFutureRev, below
//     the compacted revision ErrCompacted.
//   - count is the number of keys in the range at that revision, before the
//     min/max revision filters and before limit; more is true when limit cut
//     the result.
//   - sorting or min/max filters disable the early limit: everything is
//     fetched, filtered, sorted, then cut. Ties keep key order (stable sort).
//   - the header revision is the store's current revision, whatever revision
//     was read.
func rangeKeys(st *state, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	return rangeKeysCapped(st, r, nil)
}

// rangeKeysCapped is rangeKeys charging the key-values it returns to b
// before building any of them: ErrRangeTooLarge once they pass it. Without
// a sort or a revision filter the scan stops at the first key past the
// cap; with one, the matching records are collected (a pointer each, no
// copy) and charged after sorting and the limit.
func rangeKeysCapped(st *state, r *pb.RangeRequest, b *readBudget) (*pb.RangeResponse, error) {
	rev, err := st.checkRev(r.Revision)
	if err != nil {
		return nil, err
	}
	resp := &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: st.rev}}
	filtered := r.SortOrder != pb.RangeRequest_NONE || r.MinModRevision != 0 || r.MaxModRevision != 0 ||
		r.MinCreateRevision != 0 || r.MaxCreateRevision != 0
	fetch := int(r.Limit)
	if filtered || r.Limit <= 0 {
		fetch = -1 // everything
	} else {
		fetch++ // one extra for "more"
	}
	var hits []*rec
	var count int64
	var overBudget error
	scan(st.keys, mkSpan(r.Key, r.RangeEnd), func(_ string, vs versions) bool {
		v := vs.at(rev)
		if v == nil {
			return true
		}
		count++
		if !r.CountOnly && (fetch < 0 || len(hits) < fetch) {
			// Unfiltered hits are returned in scan order: charge each one
			// returned (not the extra one fetched for "more") now.
			if !filtered && (r.Limit <= 0 || len(hits) < int(r.Limit)) {
				if overBudget = b.take(kvEncodedSize(v, r.KeysOnly)); overBudget != nil {
					return false
				}
			}
			hits = append(hits, v)
		}
		return true
	})
	if overBudget != nil {
		return nil, overBudget
	}
	resp.Count = count
	if r.CountOnly {
		return resp, nil
	}
	hits = filterRange(hits, r)
	sortRange(hits, r)
	if r.Limit > 0 && len(hits) > int(r.Limit) {
		hits = hits[:r.Limit]
		resp.More = true
	}
	if filtered {
		for _, v := range hits {
			if err := b.take(kvEncodedSize(v, r.KeysOnly)); err != nil {
				return nil, err
			}
		}
	}
	resp.Kvs = make([]*mvccpb.KeyValue, len(hits))
	for i, v := range hits {
		resp.Kvs[i] = v.toPB(r.KeysOnly)
	}
	return resp, nil
}

func filterRange(hits []*rec, r *pb.RangeRequest) []*rec {
	if r.MinModRevision == 0 && r.MaxModRevision == 0 && r.MinCreateRevision == 0 && r.MaxCreateRevision == 0 {
		return hits
	}
	out := hits[:0]
	for _, v := range hits {
		switch {
		case r.MaxModRevision != 0 && v.mod > r.MaxModRevision,
			r.MinModRevision != 0 && v.mod < r.MinModRevision,
			r.MaxCreateRevision != 0 && v.create > r.MaxCreateRevision,
			r.MinCreateRevision != 0 && v.create < r.MinCreateRevision:
			continue
		}
		out = append(out, v)
	}
	return out
}

// sortRange sorts like etcd: results come in ascending key order, so KEY
// ASCEND is a no-op, and a non-KEY target with order NONE means ASCEND.
func sortRange(hits []*rec, r *pb.RangeRequest) {
	order := r.SortOrder
	if r.SortTarget != pb.RangeRequest_KEY && order == pb.RangeRequest_NONE {
		order = pb.RangeRequest_ASCEND
	} else if r.SortTarget == pb.RangeRequest_KEY && order == pb.RangeRequest_ASCEND {
		order = pb.RangeRequest_NONE
	}
	if order == pb.RangeRequest_NONE {
		return
	}
	var by func(a, b *rec) int
	switch r.SortTarget {
	case pb.RangeRequest_KEY:
		by = func(a, b *rec) int { return strings.Compare(a.key, b.key) }
	case pb.RangeRequest_VERSION:
		by = func(a, b *rec) int { return cmp.Compare(a.version, b.version) }
	case pb.RangeRequest_CREATE:
		by = func(a, b *rec) int { return cmp.Compare(a.create, b.create) }
	case pb.RangeRequest_MOD:
		by = func(a, b *rec) int { return cmp.Compare(a.mod, b.mod) }
	case pb.RangeRequest_VALUE:
		by = func(a, b *rec) int { return strings.Compare(a.value, b.value) }
	default:
		return
	}
	if order == pb.RangeRequest_DESCEND {
		sort.SliceStable(hits, func(i, j int) bool { return by(hits[i], hits[j]) > 0 })
		return
	}
	sort.SliceStable(hits, func(i, j int) bool { return by(hits[i], hits[j]) < 0 })
}
