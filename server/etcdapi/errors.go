package etcdapi

import (
	"context"
	"errors"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errMap lists, in order of precedence, how internal errors are reported to
// etcd clients. Clients react to these exact codes and messages.
var errMap = []struct {
	err  error
	grpc error
}{
	{kv.ErrCompacted, rpctypes.ErrGRPCCompacted},
	{kv.ErrNoSpace, rpctypes.ErrGRPCNoSpace},
	{kv.ErrBadAlarm, status.Error(codes.InvalidArgument, "etcdserver: "+kv.ErrBadAlarm.Error())},
	{kv.ErrFutureRev, rpctypes.ErrGRPCFutureRev},
	{kv.ErrLeaseNotFound, rpctypes.ErrGRPCLeaseNotFound},
	{kv.ErrLeaseExists, rpctypes.ErrGRPCLeaseExist},
	{kv.ErrLeaseTTLTooLarge, rpctypes.ErrGRPCLeaseTTLTooLarge},
	{kv.ErrDuplicateKey, rpctypes.ErrGRPCDuplicateKey},
	{kv.ErrKeyNotFound, rpctypes.ErrGRPCKeyNotFound},
	{node.ErrNoLeader, rpctypes.ErrGRPCNoLeader},
	{node.ErrNotLeader, rpctypes.ErrGRPCNotLeader},
	{node.ErrShutdown, rpctypes.ErrGRPCStopped},
	{node.ErrRemoved, rpctypes.ErrGRPCStopped},
	{node.ErrUnknownOutcome, rpctypes.ErrGRPCTimeout},
	{node.ErrTimeout, rpctypes.ErrGRPCTimeout},
	{node.ErrDiskFull, status.Error(codes.ResourceExhausted, "etcdserver: "+node.ErrDiskFull.Error())},
	{context.DeadlineExceeded, rpctypes.ErrGRPCTimeout},
	{context.Canceled, rpctypes.ErrGRPCCanceled},
	{auth.ErrRootUserNotExist, rpctypes.ErrGRPCRootUserNotExist},
	{auth.ErrRootRoleNotExist, rpctypes.ErrGRPCRootRoleNotExist},
	{auth.ErrUserAlreadyExist, rpctypes.ErrGRPCUserAlreadyExist},
	{auth.ErrUserEmpty, rpctypes.ErrGRPCUserEmpty},
	{auth.ErrUserNotFound, rpctypes.ErrGRPCUserNotFound},
	{auth.ErrRoleAlreadyExist, rpctypes.ErrGRPCRoleAlreadyExist},
	{auth.ErrRoleNotFound, rpctypes.ErrGRPCRoleNotFound},
	{auth.ErrRoleEmpty, rpctypes.ErrGRPCRoleEmpty},
	{auth.ErrAuthFailed, rpctypes.ErrGRPCAuthFailed},
	{auth.ErrNoPasswordUser, rpctypes.ErrGRPCAuthFailed},
	{auth.ErrPermissionDenied, rpctypes.ErrGRPCPermissionDenied},
	{auth.ErrRoleNotGranted, rpctypes.ErrGRPCRoleNotGranted},
	{auth.ErrPermissionNotGranted, rpctypes.ErrGRPCPermissionNotGranted},
	{auth.ErrAuthNotEnabled, rpctypes.ErrGRPCAuthNotEnabled},
	{auth.ErrInvalidAuthToken, rpctypes.ErrGRPCInvalidAuthToken},
	{auth.ErrInvalidAuthMgmt, rpctypes.ErrGRPCInvalidAuthMgmt},
	{auth.ErrAuthOldRevision, rpctypes.ErrGRPCAuthOldRevision},
	{auth.ErrPermissionNotGiven, rpctypes.ErrGRPCPermissionNotGiven},
}

// toGRPC maps an error to what etcd would return for it.
func toGRPC(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, kv.ErrRangeTooLarge) {
		return rangeTooLarge(err) // its message says the cap
	}
	for _, m := range errMap {
		if errors.Is(err, m.err) {
			return m.grpc
		}
	}
	if errors.Is(err, node.ErrMember) {
		return status.Error(codes.FailedPrecondition, "etcdserver: "+err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}
