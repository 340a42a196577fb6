package resourceapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
)

// RequestError is bad input the API finds itself before calling the
// store: a required field missing, a malformed id in a URL, an unknown
// JSON field, a data that is not a valid Any.
type RequestError struct {
	Field  string
	Reason string
}

func (e *RequestError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return fmt.Sprintf("invalid %q field: %s", e.Field, e.Reason)
}

func badField(field, format string, args ...any) error {
	return &RequestError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// TooLargeError is a resource whose encoding is over the cap.
type TooLargeError struct{ Size, Limit int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("resource is %d bytes encoded, over the limit of %d bytes", e.Size, e.Limit)
}

// Error codes of the REST API's JSON error body ({"error": ..., "code":
// ...}). Scripts match on them, never on the message.
const (
	CodeInvalid          = "invalid_argument"
	CodeTooLarge         = "too_large"
	CodeNotFound         = "not_found"
	CodeCASFailure       = "cas_failure"
	CodeWrongUid         = "wrong_uid"
	CodeGroupVersion     = "group_version_mismatch"
	CodeHistoryCompacted = "history_compacted"
	CodeWatchOverflow    = "watch_overflow"
	CodeListTooLarge     = "list_too_large"
	CodeInconsistent     = "inconsistent"
	// CodeNoSpace: the cluster's NOSPACE alarm is raised or the write would
	// pass the space quota (etcd's mvcc: database space exceeded); deletes
	// still work.
	CodeNoSpace            = "no_space"
	CodeUnavailable        = "unavailable"
	CodeTimeout            = "timeout"
	CodeUnknownOutcome     = "unknown_outcome"
	CodeCanceled           = "canceled"
	CodeInternal           = "internal"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeUnsupportedRequest = "unsupported"
	// CodePermissionDenied and CodeUnauthenticated: the auth check (the
	// agent's resource guard) refused the caller, as the client port's
	// guard words it.
	CodePermissionDenied = "permission_denied"
	CodeUnauthenticated  = "unauthenticated"
)

// wireError is where one kind of error goes on each wire.
type wireError struct {
	grpc codes.Code
	http int
	code string
}

// mapping is the one table from errors to gRPC codes and HTTP statuses,
// tested in order with errors.Is. The gRPC codes are the ones Consul's
// resource service answers with: Aborted for a lost compare-and-swap,
// FailedPrecondition for a wrong uid, InvalidArgument for bad input and a
// group-version mismatch.
var mapping = []struct {
	err error
	to  wireError
}{
	{resource.ErrNotFound, wireError{codes.NotFound, http.StatusNotFound, CodeNotFound}},
	{resource.ErrCASFailure, wireError{codes.Aborted, http.StatusConflict, CodeCASFailure}},
	{resource.ErrWrongUid, wireError{codes.FailedPrecondition, http.StatusPreconditionFailed, CodeWrongUid}},
	{resource.ErrHistoryCompacted, wireError{codes.OutOfRange, http.StatusGone, CodeHistoryCompacted}},
	{resource.ErrWatchOverflow, wireError{codes.ResourceExhausted, http.StatusServiceUnavailable, CodeWatchOverflow}},
	{resource.ErrListTooLarge, wireError{codes.ResourceExhausted, http.StatusBadRequest, CodeListTooLarge}},
	// The store wraps the node's errors in ErrInconsistent: the node's
	// come first, so a write whose outcome is unknown says so.
	{node.ErrUnknownOutcome, wireError{codes.Unknown, http.StatusGatewayTimeout, CodeUnknownOutcome}},
	{node.ErrTimeout, wireError{codes.DeadlineExceeded, http.StatusGatewayTimeout, CodeTimeout}},
	{context.DeadlineExceeded, wireError{codes.DeadlineExceeded, http.StatusGatewayTimeout, CodeTimeout}},
	{context.Canceled, wireError{codes.Canceled, http.StatusServiceUnavailable, CodeCanceled}},
	{node.ErrNotLeader, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeUnavailable}},
	{node.ErrNoLeader, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeUnavailable}},
	{node.ErrRemoved, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeUnavailable}},
	{node.ErrShutdown, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeUnavailable}},
	{resource.ErrWatchClosed, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeUnavailable}},
	{kv.ErrNoSpace, wireError{codes.ResourceExhausted, http.StatusInsufficientStorage, CodeNoSpace}},
	// A write refused at apply because the auth state changed since its
	// check (auth/stamp.go) comes wrapped in ErrInconsistent too: it is a
	// definite refusal, nothing written.
	{auth.ErrAuthOldRevision, wireError{codes.Unauthenticated, http.StatusUnauthorized, CodeUnauthenticated}},
	{resource.ErrInconsistent, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeInconsistent}},
	{auth.ErrPermissionDenied, wireError{codes.PermissionDenied, http.StatusForbidden, CodePermissionDenied}},
	{auth.ErrUserNotFound, wireError{codes.PermissionDenied, http.StatusForbidden, CodePermissionDenied}},
	{auth.ErrUserEmpty, wireError{codes.Unauthenticated, http.StatusUnauthorized, CodeUnauthenticated}},
	{auth.ErrInvalidAuthToken, wireError{codes.Unauthenticated, http.StatusUnauthorized, CodeUnauthenticated}},
	{auth.ErrAuthFailed, wireError{codes.Unauthenticated, http.StatusUnauthorized, CodeUnauthenticated}},
}

var (
	invalid  = wireError{codes.InvalidArgument, http.StatusBadRequest, CodeInvalid}
	tooLarge = wireError{codes.InvalidArgument, http.StatusRequestEntityTooLarge, CodeTooLarge}
	internal = wireError{codes.Internal, http.StatusInternalServerError, CodeInternal}
)

// classify decides where err goes. This is the one place errors become
// wire codes; grpcError and writeError only format its answer.
func classify(err error) wireError {
	var (
		re  *RequestError
		ve  resource.ValidationError
		vep *resource.ValidationError
		tl  *TooLargeError
		mbe *http.MaxBytesError
		gvm resource.GroupVersionMismatchError
		gvp *resource.GroupVersionMismatchError
	)
	switch {
	case errors.As(err, &re), errors.As(err, &ve), errors.As(err, &vep):
		return invalid
	case errors.As(err, &tl), errors.As(err, &mbe):
		return tooLarge
	case errors.As(err, &gvm), errors.As(err, &gvp):
		return wireError{codes.InvalidArgument, http.StatusConflict, CodeGroupVersion}
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		// A status from a layer below (a forwarded call) keeps its code.
		return wireError{st.Code(), http.StatusInternalServerError, CodeInternal}
	}
	for _, m := range mapping {
		if errors.Is(err, m.err) {
			return m.to
		}
	}
	return internal
}

// errorMessage words err for a client; a body over the cap names the cap.
func errorMessage(err error) string {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "request body is larger than the limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes"
	}
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

// errorDomain is the domain of the ErrorInfo detail on every gRPC error.
const errorDomain = "concord.io/resource"

// grpcError turns err into a gRPC status with the mapped code and, as
// details, an ErrorInfo whose reason is the REST code ("cas_failure"), a
// BadRequest naming the bad field, the stored resource of a
// group-version mismatch, and the oldest resumable version of a compacted
// history, so a client can rebuild the typed error (FromGRPCError).
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	to := classify(err)
	info := &errdetails.ErrorInfo{Reason: to.code, Domain: errorDomain}
	details := []protoadapt.MessageV1{info}
	var (
		re  *RequestError
		ve  resource.ValidationError
		gvm resource.GroupVersionMismatchError
		hc  resource.HistoryCompactedError
	)
	switch {
	case errors.As(err, &re):
		details = append(details, badRequest(re.Field, re.Reason))
	case errors.As(err, &ve):
		details = append(details, badRequest(ve.Field, ve.Reason))
	case errors.As(err, &gvm) && gvm.Stored != nil:
		details = append(details, gvm.Stored)
	case errors.As(err, &hc):
		info.Metadata = map[string]string{"oldest": strconv.FormatUint(hc.Oldest, 10), "rolled_back": strconv.FormatBool(hc.RolledBack)}
	}
	st, derr := status.New(to.grpc, errorMessage(err)).WithDetails(details...)
	if derr != nil {
		return status.Error(to.grpc, errorMessage(err))
	}
	return st.Err()
}

func badRequest(field, reason string) *errdetails.BadRequest {
	return &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: reason}}}
}

// FromGRPCError turns an error of the ResourceService back into the
// resource package's errors, for Go clients of concord: ErrNotFound,
// ErrCASFailure, ErrWrongUid, ValidationError, GroupVersionMismatchError
// (with the stored resource; requested is the type the call named),
// HistoryCompactedError, ErrWatchOverflow, ErrInconsistent. Other errors
// are returned as they are.
func FromGRPCError(err error, requested *pbresource.Type) error {
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return err
	}
	var (
		reason string
		info   *errdetails.ErrorInfo
		field  *errdetails.BadRequest_FieldViolation
		stored *pbresource.Resource
	)
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.Domain == errorDomain {
				info, reason = d, d.Reason
			}
		case *errdetails.BadRequest:
			if len(d.FieldViolations) > 0 {
				field = d.FieldViolations[0]
			}
		case *pbresource.Resource:
			stored = d
		}
	}
	switch reason {
	case CodeInvalid:
		if field != nil {
			return resource.ValidationError{Field: field.Field, Reason: field.Description}
		}
		return resource.ValidationError{Reason: st.Message()}
	case CodeGroupVersion:
		return resource.GroupVersionMismatchError{RequestedType: requested, Stored: stored}
	case CodeHistoryCompacted:
		oldest, _ := strconv.ParseUint(info.Metadata["oldest"], 10, 64)
		return resource.HistoryCompactedError{Oldest: oldest, RolledBack: info.Metadata["rolled_back"] == "true"}
	case CodeTooLarge:
		return resource.ValidationError{Field: "resource", Reason: st.Message()}
	}
	if target, ok := fromCode[reason]; ok {
		return fmt.Errorf("%w: %s", target, st.Message())
	}
	return err
}

// fromCode is the error a client gets back for each code; the node's
// errors come back inside the store's ErrInconsistent, as the store
// returns them.
var fromCode = map[string]error{
	CodeNotFound:       resource.ErrNotFound,
	CodeCASFailure:     resource.ErrCASFailure,
	CodeWrongUid:       resource.ErrWrongUid,
	CodeWatchOverflow:  resource.ErrWatchOverflow,
	CodeInconsistent:   resource.ErrInconsistent,
	CodeUnavailable:    resource.ErrInconsistent,
	CodeUnknownOutcome: fmt.Errorf("%w: %w", resource.ErrInconsistent, node.ErrUnknownOutcome),
	CodeTimeout:        fmt.Errorf("%w: %w", resource.ErrInconsistent, node.ErrTimeout),
	CodeCanceled:       context.Canceled,
	CodeNoSpace:        kv.ErrNoSpace,
}
