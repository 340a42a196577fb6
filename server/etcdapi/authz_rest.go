package etcdapi

import (
	"context"

	"github.com/concord-db/concord/auth"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// The KV the REST API uses calls the service directly, not through gRPC,
// so its methods run the same checks as the interceptor (methodChecks),
// with the identity the REST guard put in ctx (auth.WithIdentity).

// restCheck runs method's check for a REST call. The context it returns
// carries the auth state the check saw (auth.WithStamp), so that the
// call's write is refused at apply if that state moved (auth/stamp.go).
func (k *KV) restCheck(ctx context.Context, method string, req any) (context.Context, error) {
	a := k.a
	ctx = auth.WithStamp(ctx, a.auth.Stamp())
	if !a.auth.Enabled() {
		return ctx, nil
	}
	id, ok := auth.IdentityFromContext(ctx)
	if !ok {
		return ctx, toGRPC(auth.ErrUserEmpty)
	}
	if err := methodChecks[method](ctx, a, id, req); err != nil {
		return ctx, toGRPC(err)
	}
	return ctx, nil
}

// Range is KV.Range after the permission check.
func (k *KV) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	ctx, err := k.restCheck(ctx, "/etcdserverpb.KV/Range", r)
	if err != nil {
		return nil, err
	}
	return k.kvService.Range(ctx, r)
}

// Put is KV.Put after the permission check.
func (k *KV) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	ctx, err := k.restCheck(ctx, "/etcdserverpb.KV/Put", r)
	if err != nil {
		return nil, err
	}
	return k.kvService.Put(ctx, r)
}

// DeleteRange is KV.DeleteRange after the permission check.
func (k *KV) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	ctx, err := k.restCheck(ctx, "/etcdserverpb.KV/DeleteRange", r)
	if err != nil {
		return nil, err
	}
	return k.kvService.DeleteRange(ctx, r)
}

// Txn is KV.Txn after the permission check of every key it touches.
func (k *KV) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	ctx, err := k.restCheck(ctx, "/etcdserverpb.KV/Txn", r)
	if err != nil {
		return nil, err
	}
	return k.kvService.Txn(ctx, r)
}

// Compact is KV.Compact, for root only.
func (k *KV) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	ctx, err := k.restCheck(ctx, "/etcdserverpb.KV/Compact", r)
	if err != nil {
		return nil, err
	}
	return k.kvService.Compact(ctx, r)
}
