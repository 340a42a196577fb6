package etcdapi

import (
	"context"
	"strings"

	"github.com/concord-db/concord/auth"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
)

// etcdServicePrefix names etcd's gRPC services: their methods go through
// methodChecks, and one missing from it is refused while auth is on.
const etcdServicePrefix = "/etcdserverpb."

// check decides whether id may make the call req of one method, as etcd
// checks it. It returns an auth error (mapped by toGRPC).
type check func(ctx context.Context, a *API, id auth.Identity, req any) error

// methodChecks is every etcd method's permission check, in one place. The
// endpoint walk test calls every method of every registered service with
// an unprivileged user, so a method missing here fails it.
var methodChecks = map[string]check{
	"/etcdserverpb.KV/Range": func(ctx context.Context, a *API, id auth.Identity, req any) error {
		r := req.(*pb.RangeRequest)
		return a.authorize(ctx, id, auth.OpRead, r.Key, r.RangeEnd)
	},
	"/etcdserverpb.KV/Put": func(ctx context.Context, a *API, id auth.Identity, req any) error {
		return a.checkPut(ctx, id, req.(*pb.PutRequest))
	},
	"/etcdserverpb.KV/DeleteRange": func(ctx context.Context, a *API, id auth.Identity, req any) error {
		return a.checkDelete(ctx, id, req.(*pb.DeleteRangeRequest))
	},
	"/etcdserverpb.KV/Txn": func(ctx context.Context, a *API, id auth.Identity, req any) error {
		return a.checkTxnAuth(ctx, id, req.(*pb.TxnRequest))
	},
	"/etcdserverpb.KV/Compact": adminOnly,

	// Watch checks each create request (watch_auth.go); the stream itself
	// needs an authenticated user (etcd opens it to anyone).
	"/etcdserverpb.Watch/Watch": authenticated,

	// etcd does not check lease grants, keep-alives and lists; concord
	// asks for an authenticated user at least.
	"/etcdserverpb.Lease/LeaseGrant":     authenticated,
	"/etcdserverpb.Lease/LeaseKeepAlive": authenticated,
	"/etcdserverpb.Lease/LeaseLeases":    authenticated,
	"/etcdserverpb.Lease/LeaseRevoke": func(ctx context.Context, a *API, id auth.Identity, req any) error {
		return a.checkLeaseKeys(ctx, id, req.(*pb.LeaseRevokeRequest).ID, auth.OpWrite)
	},
	"/etcdserverpb.Lease/LeaseTimeToLive": func(ctx context.Context, a *API, id auth.Identity, req any) error {
		return a.checkLeaseKeys(ctx, id, req.(*pb.LeaseTimeToLiveRequest).ID, auth.OpRead)
	},

	"/etcdserverpb.Cluster/MemberList":    authenticated,
	"/etcdserverpb.Cluster/MemberAdd":     adminOnly,
	"/etcdserverpb.Cluster/MemberRemove":  adminOnly,
	"/etcdserverpb.Cluster/MemberUpdate":  adminOnly,
	"/etcdserverpb.Cluster/MemberPromote": adminOnly,

	"/etcdserverpb.Maintenance/Alarm":      adminOnly,
	"/etcdserverpb.Maintenance/Status":     adminOnly,
	"/etcdserverpb.Maintenance/Defragment": adminOnly,
	"/etcdserverpb.Maintenance/Hash":       adminOnly,
	"/etcdserverpb.Maintenance/HashKV":     adminOnly,
	"/etcdserverpb.Maintenance/Snapshot":   adminOnly,
	"/etcdserverpb.Maintenance/MoveLeader": adminOnly,
	"/etcdserverpb.Maintenance/Downgrade":  adminOnly,

	// Authenticate is open; the rest of the Auth service needs a user here
	// and is checked by the auth store (root, except that a user may read
	// itself and its roles).
	"/etcdserverpb.Auth/Authenticate":         anyone,
	"/etcdserverpb.Auth/AuthEnable":           inAuthStore,
	"/etcdserverpb.Auth/AuthDisable":          inAuthStore,
	"/etcdserverpb.Auth/AuthStatus":           inAuthStore,
	"/etcdserverpb.Auth/UserAdd":              inAuthStore,
	"/etcdserverpb.Auth/UserGet":              inAuthStore,
	"/etcdserverpb.Auth/UserList":             inAuthStore,
	"/etcdserverpb.Auth/UserDelete":           inAuthStore,
	"/etcdserverpb.Auth/UserChangePassword":   inAuthStore,
	"/etcdserverpb.Auth/UserGrantRole":        inAuthStore,
	"/etcdserverpb.Auth/UserRevokeRole":       inAuthStore,
	"/etcdserverpb.Auth/RoleAdd":              inAuthStore,
	"/etcdserverpb.Auth/RoleGet":              inAuthStore,
	"/etcdserverpb.Auth/RoleList":             inAuthStore,
	"/etcdserverpb.Auth/RoleDelete":           inAuthStore,
	"/etcdserverpb.Auth/RoleGrantPermission":  inAuthStore,
	"/etcdserverpb.Auth/RoleRevokePermission": inAuthStore,
}

func anyone(context.Context, *API, auth.Identity, any) error { return nil }

func inAuthStore(ctx context.Context, a *API, id auth.Identity, req any) error {
	return authenticated(ctx, a, id, req)
}

func adminOnly(ctx context.Context, a *API, id auth.Identity, _ any) error {
	return a.auth.Authorize(ctx, auth.Request{User: id, Op: auth.OpAdmin, Namespace: auth.NamespaceCluster})
}

func authenticated(ctx context.Context, a *API, id auth.Identity, _ any) error {
	return a.auth.Authorize(ctx, auth.Request{User: id, Op: auth.OpRead, Namespace: auth.NamespaceCluster})
}

// authorize asks whether id may do op on etcd's range [key, rangeEnd).
func (a *API) authorize(ctx context.Context, id auth.Identity, op auth.Op, key, rangeEnd []byte) error {
	return a.auth.Authorize(ctx, auth.Request{User: id, Op: op, Key: key, RangeEnd: rangeEnd})
}

// checkPut is etcd's: write on the key, read too if the previous value is
// returned, and write on every key of the lease it attaches (a user who
// could not revoke the lease may not attach to it).
func (a *API) checkPut(ctx context.Context, id auth.Identity, r *pb.PutRequest) error {
	if err := a.authorize(ctx, id, auth.OpWrite, r.Key, nil); err != nil {
		return err
	}
	if r.PrevKv {
		if err := a.authorize(ctx, id, auth.OpRead, r.Key, nil); err != nil {
			return err
		}
	}
	if r.Lease != 0 {
		return a.checkLeaseKeys(ctx, id, r.Lease, auth.OpWrite)
	}
	return nil
}

func (a *API) checkDelete(ctx context.Context, id auth.Identity, r *pb.DeleteRangeRequest) error {
	if err := a.authorize(ctx, id, auth.OpWrite, r.Key, r.RangeEnd); err != nil {
		return err
	}
	if r.PrevKv {
		return a.authorize(ctx, id, auth.OpRead, r.Key, r.RangeEnd)
	}
	return nil
}

// checkTxnAuth is etcd's CheckTxnAuth: read on every compared key, and
// every operation of both branches, nested txns included.
func (a *API) checkTxnAuth(ctx context.Context, id auth.Identity, r *pb.TxnRequest) error {
	if err := authenticated(ctx, a, id, nil); err != nil {
		return err // even a txn that names no key
	}
	for _, c := range r.Compare {
		if err := a.authorize(ctx, id, auth.OpRead, c.Key, c.RangeEnd); err != nil {
			return err
		}
	}
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			var err error
			switch v := op.Request.(type) {
			case *pb.RequestOp_RequestRange:
				err = a.authorize(ctx, id, auth.OpRead, v.RequestRange.Key, v.RequestRange.RangeEnd)
			case *pb.RequestOp_RequestPut:
				err = a.checkPut(ctx, id, v.RequestPut)
			case *pb.RequestOp_RequestDeleteRange:
				err = a.checkDelete(ctx, id, v.RequestDeleteRange)
			case *pb.RequestOp_RequestTxn:
				err = a.checkTxnAuth(ctx, id, v.RequestTxn)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// checkLeaseKeys checks op on every key attached to a lease: etcd's check
// of LeaseRevoke (write), of a put attaching to it (write) and of
// LeaseTimeToLive (read). Root skips it; an unknown lease has no keys.
func (a *API) checkLeaseKeys(ctx context.Context, id auth.Identity, lease int64, op auth.Op) error {
	if err := authenticated(ctx, a, id, nil); err != nil {
		return err
	}
	if a.auth.Authorize(ctx, auth.Request{User: id, Op: auth.OpAdmin}) == nil {
		return nil
	}
	ttl, err := a.store.LeaseTimeToLive(lease, true)
	if err != nil {
		return nil // the handler reports the missing lease
	}
	for _, k := range ttl.Keys {
		if err := a.authorize(ctx, id, op, k, nil); err != nil {
			return err
		}
	}
	return nil
}

// identityFrom returns the identity the interceptor (or the REST guard)
// found for the call.
func identityFrom(ctx context.Context) auth.Identity {
	id, _ := auth.IdentityFromContext(ctx)
	return id
}

// authenticateMethod is open to anyone.
const authenticateMethod = "/etcdserverpb.Auth/Authenticate"

// healthServicePrefix names gRPC's health service, open to anyone (as
// the HTTP probes are).
const healthServicePrefix = "/grpc.health.v1.Health/"

// authorizeCall resolves the caller and runs the method's check. An etcd
// method without a check is refused. Other services (the faces') need an
// authenticated user; they authorize each object themselves with the
// identity put in ctx (auth.IdentityFromContext).
func (a *API) authorizeCall(ctx context.Context, method string, req any) (context.Context, error) {
	// The auth state before the check, also while auth is off: the
	// call's writes are refused at apply if it moves (auth/stamp.go).
	ctx = auth.WithStamp(ctx, a.auth.Stamp())
	if strings.HasPrefix(method, healthServicePrefix) || method == authenticateMethod || !a.auth.Enabled() {
		// Authenticate ignores the token clients send with every call
		// (clientv3 does, even a stale one when it authenticates again).
		return ctx, nil
	}
	id, err := a.auth.IdentityFromGRPC(ctx)
	if err != nil {
		return ctx, toGRPC(err)
	}
	c, ok := methodChecks[method]
	switch {
	case !strings.HasPrefix(method, etcdServicePrefix):
		c = authenticated
	case !ok:
		return ctx, toGRPC(auth.ErrPermissionDenied)
	}
	if req != nil {
		if err := c(ctx, a, id, req); err != nil {
			return ctx, toGRPC(err)
		}
	}
	return auth.WithIdentity(ctx, id), nil
}

// UnaryInterceptor checks every unary call of etcd's services against the
// auth store. Install it on the gRPC server the API is registered on.
func (a *API) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := a.authorizeCall(ctx, info.FullMethod, req)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// StreamInterceptor is UnaryInterceptor for streams: the check runs when
// the stream opens, without a request (Watch checks each create itself;
// Snapshot's request carries nothing to check).
func (a *API) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := a.authorizeCall(ss.Context(), info.FullMethod, struct{}{})
		if err != nil {
			return err
		}
		return h(srv, &identityStream{ServerStream: ss, ctx: ctx})
	}
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }
