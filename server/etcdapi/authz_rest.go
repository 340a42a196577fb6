package etcdapi

import (
	"context"

	"github.com/concord-db/concord/auth"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// The KV the REST API uses calls the service directly, not through gRPC,
// so its methods run the same checks as the interceptor (methodChecks),
// with the identity the REST guard put in ctx (auth.WithIdentity).

// restCheck runs method's check for a REST call.
func (k *KV) restCheck(ctx context.Context, method string, req any) error {
	a := k.a
	if !a.auth.Enabled() {
		return nil
	}
	id, ok := auth.IdentityFromContext(ctx)
	if !ok {
		return toGRPC(auth.ErrUserEmpty)
	}
	if err := methodChecks[method](ctx, a, id, req); err != nil {
		return toGRPC(err)
	}
	return nil
}

// Range is KV.Range after the permission check.
func (k *KV) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := k.restCheck(ctx, "/etcdserverpb.KV/Range", r); err != nil {
		return nil, err
	}
	return k.kvService.Range(ctx, r)
}

// Put is KV.Put after the permission check.
func (k *KV) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := k.restCheck(ctx, "/etcdserverpb.KV/Put", r); err != nil {
		return nil, err
	}
	return k.kvService.Put(ctx, r)
}

// DeleteRange is KV.DeleteRange after the permission check.
func (k *KV) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if err := k.restCheck(ctx, "/etcdserverpb.KV/DeleteRange", r); err != nil {
		return nil, err
	}
	return k.kvService.DeleteRange(ctx, r)
}

// Txn is KV.Txn after the permission check of every key it touches.
func (k *KV) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := k.restCheck(ctx, "/etcdserverpb.KV/Txn", r); err != nil {
		return nil, err
	}
	return k.kvService.Txn(ctx, r)
}

// Compact is KV.Compact, for root only.
func (k *KV) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	if err := k.restCheck(ctx, "/etcdserverpb.KV/Compact", r); err != nil {
		return nil, err
	}
	return k.kvService.Compact(ctx, r)
}
