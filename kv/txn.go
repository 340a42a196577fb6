package kv

import (
	"bytes"
	"cmp"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Txn semantics follow etcd (server/etcdserver/txn):
//  1. Duplicate check (etcd does it in the API layer, we do it in apply so
//     every entry point gets it): within each top-level branch, puts may not
//     repeat a key and may not fall in a delete range, recursively through
//     nested txns; a nested txn's then and else may put the same key since
//     only one of them runs. Overlapping deletes are allowed.
//  2. Every compare, including those of nested txns on the chosen path, is
//     evaluated against the state before the txn.
//  3. For a txn that writes, the chosen path is pre-checked against that
//     state: puts need their lease and, with ignore_value/ignore_lease, their
//     key; ranges need a revision within history.
//  4. The ops run in order; reads see the txn's own earlier writes. All
//     writes share one revision; the txn bumps it only if it changed a key.

// choice is the branch taken by a txn and, in op order, by its nested txns.
type choice struct {
	succeeded bool
	nested    []*choice
}

func branch(rt *pb.TxnRequest, ok bool) []*pb.RequestOp {
	if ok {
		return rt.Success
	}
	return rt.Failure
}

func choose(st *state, rt *pb.TxnRequest) *choice {
	c := &choice{succeeded: compareAll(st, rt.Compare)}
	for _, op := range branch(rt, c.succeeded) {
		if t := op.GetRequestTxn(); t != nil {
			c.nested = append(c.nested, choose(st, t))
		}
	}
	return c
}

func compareAll(st *state, cs []*pb.Compare) bool {
	for _, c := range cs {
		if c == nil || !compareOne(st, c) {
			return false
		}
	}
	return true
}

// compareOne is etcd's applyCompare: every key in the range must satisfy
// the compare; an empty range compares a zero KeyValue, except that a value
// compare on missing keys always fails.
func compareOne(st *state, c *pb.Compare) bool {
	var hits []*rec
	scan(st.keys, mkSpan(c.Key, c.RangeEnd), func(_ string, vs versions) bool {
		if v := vs.latest(); v != nil {
			hits = append(hits, v)
		}
		return true
	})
	if len(hits) == 0 {
		if c.Target == pb.Compare_VALUE {
			return false
		}
		return compareRec(c, &rec{})
	}
	for _, v := range hits {
		if !compareRec(c, v) {
			return false
		}
	}
	return true
}

func compareRec(c *pb.Compare, v *rec) bool {
	var r int
	switch c.Target {
	case pb.Compare_VALUE:
		r = bytes.Compare([]byte(v.value), c.GetValue())
	case pb.Compare_CREATE:
		r = cmp.Compare(v.create, c.GetCreateRevision())
	case pb.Compare_MOD:
		r = cmp.Compare(v.mod, c.GetModRevision())
	case pb.Compare_VERSION:
		r = cmp.Compare(v.version, c.GetVersion())
	case pb.Compare_LEASE:
		r = cmp.Compare(v.lease, c.GetLease())
	}
	switch c.Result {
	case pb.Compare_EQUAL:
		return r == 0
	case pb.Compare_NOT_EQUAL:
		return r != 0
	case pb.Compare_GREATER:
		return r > 0
	case pb.Compare_LESS:
		return r < 0
	}
	return true
}

// isReadOnly reports whether no branch at any depth puts or deletes.
func isReadOnly(rt *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{rt.Success, rt.Failure} {
		for _, op := range ops {
			switch {
			case op.GetRequestPut() != nil, op.GetRequestDeleteRange() != nil:
				return false
			case op.GetRequestTxn() != nil && !isReadOnly(op.GetRequestTxn()):
				return false
			}
		}
	}
	return true
}

// checkPath is etcd's checkTxn, on the state before the txn.
func checkPath(st *state, rt *pb.TxnRequest, c *choice) error {
	nested := c.nested
	for _, op := range branch(rt, c.succeeded) {
		switch {
		case op.GetRequestRange() != nil:
			if r := op.GetRequestRange(); r.Revision > st.rev {
				return ErrFutureRev
			} else if r.Revision != 0 && r.Revision < st.compactRev {
				return ErrCompacted
			}
		case op.GetRequestPut() != nil:
			p := op.GetRequestPut()
			if p.Lease != 0 {
				if _, ok := st.leases.Get(p.Lease); !ok {
					return ErrLeaseNotFound
				}
			}
			if p.IgnoreValue || p.IgnoreLease {
				if vs, _ := st.keys.Get(string(p.Key)); vs.latest() == nil {
					return ErrKeyNotFound
				}
			}
		case op.GetRequestTxn() != nil:
			if err := checkPath(st, op.GetRequestTxn(), nested[0]); err != nil {
				return err
			}
			nested = nested[1:]
		}
	}
	return nil
}

// txn applies a TxnRequest. On error nothing it did may be published.
func (w *writer) txn(rt *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := checkDuplicates(rt); err != nil {
		return nil, err
	}
	c := choose(w.base, rt)
	if !isReadOnly(rt) {
		if err := checkPath(w.base, rt, c); err != nil {
			return nil, err
		}
	}
	resp, err := w.execTxn(rt, c)
	if err != nil {
		return nil, err
	}
	setHeaders(resp, w.st.rev)
	return resp, nil
}

func (w *writer) execTxn(rt *pb.TxnRequest, c *choice) (*pb.TxnResponse, error) {
	ops := branch(rt, c.succeeded)
	resp := &pb.TxnResponse{Succeeded: c.succeeded, Responses: make([]*pb.ResponseOp, 0, len(ops))}
	nested := c.nested
	for _, op := range ops {
		var ro *pb.ResponseOp
		switch {
		case op.GetRequestRange() != nil:
			r, err := rangeKeysCapped(&w.st, op.GetRequestRange(), w.budget)
			if err != nil {
				return nil, err
			}
			ro = &pb.ResponseOp{Response: &pb.ResponseOp_ResponseRange{ResponseRange: r}}
		case op.GetRequestPut() != nil:
			r, err := w.put(op.GetRequestPut())
			if err != nil {
				return nil, err
			}
			ro = &pb.ResponseOp{Response: &pb.ResponseOp_ResponsePut{ResponsePut: r}}
		case op.GetRequestDeleteRange() != nil:
			r := w.deleteRange(op.GetRequestDeleteRange())
			ro = &pb.ResponseOp{Response: &pb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: r}}
		case op.GetRequestTxn() != nil:
			r, err := w.execTxn(op.GetRequestTxn(), nested[0])
			if err != nil {
				return nil, err
			}
			nested = nested[1:]
			ro = &pb.ResponseOp{Response: &pb.ResponseOp_ResponseTxn{ResponseTxn: r}}
		default:
			// An empty op gets an empty response, keeping positions aligned.
			ro = &pb.ResponseOp{}
		}
		resp.Responses = append(resp.Responses, ro)
	}
	return resp, nil
}

// setHeaders gives the txn and its nested txns the final revision; put and
// delete responses keep the revision they wrote at, ranges the revision
// they read at.
func setHeaders(resp *pb.TxnResponse, rev int64) {
	resp.Header = &pb.ResponseHeader{Revision: rev}
	for _, ro := range resp.Responses {
		if t := ro.GetResponseTxn(); t != nil {
			setHeaders(t, rev)
		}
	}
}

// readTxn evaluates a read-only txn against one state.
func readTxn(st *state, rt *pb.TxnRequest) (*pb.TxnResponse, error) {
	return readTxnCapped(st, rt, nil)
}

// readTxnCapped is readTxn with every range charged to b.
func readTxnCapped(st *state, rt *pb.TxnRequest, b *readBudget) (*pb.TxnResponse, error) {
	if !isReadOnly(rt) {
		return nil, ErrNotReadOnly
	}
	w := newWriter(st, 0)
	w.budget = b
	resp, err := w.execTxn(rt, choose(st, rt))
	if err != nil {
		return nil, err
	}
	setHeaders(resp, st.rev)
	return resp, nil
}

// checkDuplicates is etcd's checkIntervals applied to each top-level branch.
func checkDuplicates(rt *pb.TxnRequest) error {
	if _, _, err := intervals(rt.Success); err != nil {
		return err
	}
	_, _, err := intervals(rt.Failure)
	return err
}

// intervals returns the keys put and the ranges deleted by ops (and their
// nested txns), or ErrDuplicateKey if a put repeats a key or hits a delete.
func intervals(ops []*pb.RequestOp) (map[string]struct{}, []span, error) {
	var dels []span
	for _, op := range ops {
		if d := op.GetRequestDeleteRange(); d != nil {
			dels = append(dels, mkSpan(d.Key, d.RangeEnd))
		}
	}
	hitsDel := func(k string) bool {
		for _, s := range dels {
			if s.contains(k) {
				return true
			}
		}
		return false
	}
	puts := map[string]struct{}{}
	for _, op := range ops {
		t := op.GetRequestTxn()
		if t == nil {
			continue
		}
		putsThen, delsThen, err := intervals(t.Success)
		if err != nil {
			return nil, nil, err
		}
		putsElse, delsElse, err := intervals(t.Failure)
		if err != nil {
			return nil, nil, err
		}
		for k := range putsThen {
			if _, dup := puts[k]; dup || hitsDel(k) {
				return nil, nil, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		for k := range putsElse {
			if _, dup := puts[k]; dup {
				if _, inThen := putsThen[k]; !inThen {
					return nil, nil, ErrDuplicateKey
				}
			}
			if hitsDel(k) {
				return nil, nil, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		dels = append(dels, delsThen...)
		dels = append(dels, delsElse...)
	}
	for _, op := range ops {
		p := op.GetRequestPut()
		if p == nil {
			continue
		}
		k := string(p.Key)
		if _, dup := puts[k]; dup || hitsDel(k) {
			return nil, nil, ErrDuplicateKey
		}
		puts[k] = struct{}{}
	}
	return puts, dels, nil
}
