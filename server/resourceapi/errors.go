package resourceapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	CodeInvalid            = "invalid_argument"
	CodeTooLarge           = "too_large"
	CodeNotFound           = "not_found"
	CodeCASFailure         = "cas_failure"
	CodeWrongUid           = "wrong_uid"
	CodeGroupVersion       = "group_version_mismatch"
	CodeHistoryCompacted   = "history_compacted"
	CodeWatchOverflow      = "watch_overflow"
	CodeInconsistent       = "inconsistent"
	CodeUnavailable        = "unavailable"
	CodeTimeout            = "timeout"
	CodeUnknownOutcome     = "unknown_outcome"
	CodeCanceled           = "canceled"
	CodeInternal           = "internal"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeUnsupportedRequest = "unsupported"
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
	{resource.ErrInconsistent, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeInconsistent}},
	{node.ErrNotLeader, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeUnavailable}},
	{node.ErrNoLeader, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeUnavailable}},
	{node.ErrRemoved, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeUnavailable}},
	{node.ErrShutdown, wireError{codes.Unavailable, http.StatusServiceUnavailable, CodeUnavailable}},
	{node.ErrUnknownOutcome, wireError{codes.Unknown, http.StatusGatewayTimeout, CodeUnknownOutcome}},
	{node.ErrTimeout, wireError{codes.DeadlineExceeded, http.StatusGatewayTimeout, CodeTimeout}},
	{context.DeadlineExceeded, wireError{codes.DeadlineExceeded, http.StatusGatewayTimeout, CodeTimeout}},
	{context.Canceled, wireError{codes.Canceled, http.StatusServiceUnavailable, CodeCanceled}},
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

// grpcError turns err into a gRPC status error with the mapped code.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	return status.Error(classify(err).grpc, errorMessage(err))
}
