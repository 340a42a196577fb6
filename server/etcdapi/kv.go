package etcdapi

import (
	"context"

	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

type kvService struct{ a *API }

func (s *kvService) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := checkRange(r); err != nil {
		return nil, err
	}
	if err := s.a.readBarrier(ctx, r.Serializable); err != nil {
		return nil, err
	}
	resp, err := s.a.store.RangeCapped(r, s.a.limits.MaxRangeBytes)
	if err != nil {
		return nil, toGRPC(err)
	}
	resp.Header = s.a.header(resp.Header)
	return resp, nil
}

func (s *kvService) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := checkPut(r); err != nil {
		return nil, err
	}
	if err := s.a.quota.Check(ctx, kv.PutCost(r)); err != nil {
		return nil, toGRPC(err)
	}
	resp, err := propose[*pb.PutResponse](ctx, s.a, kv.EncodePut(r))
	if err != nil {
		return nil, err
	}
	resp.Header = s.a.header(resp.Header)
	return resp, nil
}

func (s *kvService) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if len(r.Key) == 0 {
		return nil, rpctypes.ErrGRPCEmptyKey
	}
	resp, err := propose[*pb.DeleteRangeResponse](ctx, s.a, kv.EncodeDeleteRange(r))
	if err != nil {
		return nil, err
	}
	resp.Header = s.a.header(resp.Header)
	return resp, nil
}

func (s *kvService) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := checkTxn(r, s.a.limits.MaxTxnOps); err != nil {
		return nil, err
	}
	var (
		resp *pb.TxnResponse
		err  error
	)
	if isReadOnly(r) {
		if err := s.a.readBarrier(ctx, isSerializable(r)); err != nil {
			return nil, err
		}
		resp, err = s.a.store.ReadTxnCapped(r, s.a.limits.MaxRangeBytes)
		err = toGRPC(err)
	} else {
		// Its ranges are read in apply on every member: refuse one that
		// would return more than a read may, before proposing it.
		if err := s.a.store.CheckTxnRanges(r, s.a.limits.MaxRangeBytes); err != nil {
			return nil, toGRPC(err)
		}
		if cost := kv.TxnCost(r); cost > 0 {
			if err := s.a.quota.Check(ctx, cost); err != nil {
				return nil, toGRPC(err)
			}
		}
		resp, err = propose[*pb.TxnResponse](ctx, s.a, kv.EncodeTxn(r))
	}
	if err != nil {
		return nil, err
	}
	resp.Header = s.a.header(resp.Header)
	return resp, nil
}

func (s *kvService) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	resp, err := propose[*pb.CompactionResponse](ctx, s.a, kv.EncodeCompact(r))
	if err != nil {
		return nil, err
	}
	resp.Header = s.a.header(resp.Header)
	return resp, nil
}

// readBarrier makes a read see what it must: a linearizable read everything
// committed before it began, a serializable one every write this member
// acknowledged.
func (a *API) readBarrier(ctx context.Context, serializable bool) error {
	var err error
	if serializable {
		err = a.readFence(ctx)
	} else {
		err = a.node.ReadBarrier(ctx)
	}
	return toGRPC(err)
}

// propose commits a kv command and decodes its result, which is the
// leader's. It answers without waiting for this member to apply the
// command; reads here wait for that instead (see ackedIndex).
func propose[T kv.Message](ctx context.Context, a *API, cmd []byte) (T, error) {
	var zero T
	if len(cmd) > a.limits.MaxRequestBytes {
		return zero, rpctypes.ErrGRPCRequestTooLarge
	}
	res, err := a.node.Apply(ctx, node.TypeKV, cmd)
	if err != nil {
		return zero, toGRPC(err)
	}
	a.acked.advance(res.Index)
	resp, err := kv.ResultAs[T](res.Data)
	if err != nil {
		return zero, toGRPC(err)
	}
	return resp, nil
}

func checkRange(r *pb.RangeRequest) error {
	if len(r.Key) == 0 {
		return rpctypes.ErrGRPCEmptyKey
	}
	if _, ok := pb.RangeRequest_SortOrder_name[int32(r.SortOrder)]; !ok {
		return rpctypes.ErrGRPCInvalidSortOption
	}
	if _, ok := pb.RangeRequest_SortTarget_name[int32(r.SortTarget)]; !ok {
		return rpctypes.ErrGRPCInvalidSortOption
	}
	return nil
}

func checkPut(r *pb.PutRequest) error {
	if len(r.Key) == 0 {
		return rpctypes.ErrGRPCEmptyKey
	}
	if r.IgnoreValue && len(r.Value) != 0 {
		return rpctypes.ErrGRPCValueProvided
	}
	if r.IgnoreLease && r.Lease != 0 {
		return rpctypes.ErrGRPCLeaseProvided
	}
	return nil
}

// checkTxn is etcd's checkTxnRequest: the largest of the compares, the
// success ops and the failure ops counts against maxOps, and a nested txn
// gets only what its parent left of the budget.
func checkTxn(r *pb.TxnRequest, maxOps int) error {
	opc := max(len(r.Compare), len(r.Success), len(r.Failure))
	if opc > maxOps {
		return rpctypes.ErrGRPCTooManyOps
	}
	for _, c := range r.Compare {
		if len(c.Key) == 0 {
			return rpctypes.ErrGRPCEmptyKey
		}
	}
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			if err := checkOp(op, maxOps-opc); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkOp(op *pb.RequestOp, maxOps int) error {
	switch v := op.Request.(type) {
	case *pb.RequestOp_RequestRange:
		return checkRange(v.RequestRange)
	case *pb.RequestOp_RequestPut:
		return checkPut(v.RequestPut)
	case *pb.RequestOp_RequestDeleteRange:
		if len(v.RequestDeleteRange.Key) == 0 {
			return rpctypes.ErrGRPCEmptyKey
		}
	case *pb.RequestOp_RequestTxn:
		return checkTxn(v.RequestTxn, maxOps)
	case nil:
		return rpctypes.ErrGRPCKeyNotFound
	}
	return nil
}

// isReadOnly reports whether a txn has no write in either branch.
func isReadOnly(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			switch v := op.Request.(type) {
			case *pb.RequestOp_RequestPut, *pb.RequestOp_RequestDeleteRange:
				return false
			case *pb.RequestOp_RequestTxn:
				if !isReadOnly(v.RequestTxn) {
					return false
				}
			}
		}
	}
	return true
}

// isSerializable reports whether every range in a read-only txn asked for
// serializable consistency (etcd then serves it without a barrier).
func isSerializable(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			switch v := op.Request.(type) {
			case *pb.RequestOp_RequestRange:
				if !v.RequestRange.Serializable {
					return false
				}
			case *pb.RequestOp_RequestTxn:
				if !isSerializable(v.RequestTxn) {
					return false
				}
			}
		}
	}
	return true
}

// KV is etcd's KV service over the store, with what the REST API also
// needs (watches, the request size limit), so both APIs share one
// implementation.
type KV struct{ kvService }

// KV returns the KV service.
func (a *API) KV() *KV { return &KV{kvService{a}} }

// Watch starts a watch on the store.
func (k *KV) Watch(req kv.WatchRequest) *kv.Watcher { return k.a.store.Watch(req) }

// MaxRequestBytes is the largest write accepted.
func (k *KV) MaxRequestBytes() int { return k.a.limits.MaxRequestBytes }
