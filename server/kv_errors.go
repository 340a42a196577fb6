package server

import (
	"net/http"
	"strings"

	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error codes of the REST KV API.
const (
	CodeKeyNotFound     = "key_not_found"
	CodeVersionMismatch = "version_mismatch"
	CodeCompacted       = "compacted"
	CodeFutureRevision  = "future_revision"
	CodeLeaseNotFound   = "lease_not_found"
	// CodeRangeTooLarge: a range's key-values pass --max-range-bytes
	// (etcdapi.Limits.MaxRangeBytes); narrow it or set a limit.
	CodeRangeTooLarge = "range_too_large"
)

// etcdErrors maps the etcd errors the KV service returns (it speaks gRPC)
// to HTTP. Matching is on etcd's error, as its clients do.
var etcdErrors = []struct {
	err    error
	status int
	code   string
}{
	{rpctypes.ErrGRPCCompacted, http.StatusGone, CodeCompacted},
	{rpctypes.ErrGRPCFutureRev, http.StatusBadRequest, CodeFutureRevision},
	{rpctypes.ErrGRPCLeaseNotFound, http.StatusNotFound, CodeLeaseNotFound},
	{rpctypes.ErrGRPCKeyNotFound, http.StatusNotFound, CodeKeyNotFound},
	{rpctypes.ErrGRPCRequestTooLarge, http.StatusRequestEntityTooLarge, CodeTooLarge},
	{rpctypes.ErrGRPCNoSpace, http.StatusInsufficientStorage, CodeNoSpace},
	// etcdapi's answer for node.ErrDiskFull (matched by its description).
	{status.Error(codes.ResourceExhausted, "etcdserver: "+node.ErrDiskFull.Error()), http.StatusInsufficientStorage, CodeDiskFull},
	{rpctypes.ErrGRPCNoLeader, http.StatusServiceUnavailable, CodeNoLeader},
	{rpctypes.ErrGRPCNotLeader, http.StatusServiceUnavailable, CodeNotLeader},
	{rpctypes.ErrGRPCStopped, http.StatusServiceUnavailable, CodeShutdown},
	{rpctypes.ErrGRPCTimeout, http.StatusGatewayTimeout, CodeUnknownOutcome},
	{rpctypes.ErrGRPCCanceled, http.StatusServiceUnavailable, CodeCanceled},
	{rpctypes.ErrGRPCPermissionDenied, http.StatusForbidden, CodePermissionDenied},
	{rpctypes.ErrGRPCUserEmpty, http.StatusUnauthorized, CodeUnauthenticated},
	{rpctypes.ErrGRPCInvalidAuthToken, http.StatusUnauthorized, CodeUnauthenticated},
	{rpctypes.ErrGRPCAuthOldRevision, http.StatusUnauthorized, CodeUnauthenticated},
	{rpctypes.ErrGRPCAuthFailed, http.StatusUnauthorized, CodeUnauthenticated},
}

// etcdErrorStatus maps an etcd gRPC error; ok is false for other errors.
func etcdErrorStatus(err error) (httpStatus int, code string, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus {
		return 0, "", false
	}
	desc := rpctypes.ErrorDesc(err)
	if st.Code() == codes.ResourceExhausted && strings.Contains(desc, kv.ErrRangeTooLarge.Error()) {
		return http.StatusBadRequest, CodeRangeTooLarge, true // its message says the cap
	}
	for _, m := range etcdErrors {
		if rpctypes.ErrorDesc(m.err) == desc {
			return m.status, m.code, true
		}
	}
	if st.Code() == codes.InvalidArgument || st.Code() == codes.OutOfRange {
		return http.StatusBadRequest, CodeBadRequest, true
	}
	return http.StatusInternalServerError, CodeInternal, true
}

// errorMessage is err's text for an error body: an etcd error's own
// message, without gRPC's "rpc error: code = ..." wrapping.
func errorMessage(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}
