package resourceapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/resource"
)

// TestErrorTable pins each error's place on both wires, and that
// FromGRPCError rebuilds the typed error from the gRPC answer.
func TestErrorTable(t *testing.T) {
	stored := &pbresource.Resource{Id: &pbresource.ID{Name: "x", Type: &pbresource.Type{Group: "demo", GroupVersion: "v1", Kind: "Artist"}}, Version: "3"}
	cases := []struct {
		err    error
		grpc   codes.Code
		http   int
		code   string
		target error
	}{
		{resource.ErrNotFound, codes.NotFound, 404, CodeNotFound, resource.ErrNotFound},
		{fmt.Errorf("write: %w", resource.ErrCASFailure), codes.Aborted, 409, CodeCASFailure, resource.ErrCASFailure},
		{resource.ErrWrongUid, codes.FailedPrecondition, 412, CodeWrongUid, resource.ErrWrongUid},
		{resource.ValidationError{Field: "id.name", Reason: "bad"}, codes.InvalidArgument, 400, CodeInvalid, nil},
		{badField("owner", "bad"), codes.InvalidArgument, 400, CodeInvalid, nil},
		{&TooLargeError{Size: 9, Limit: 8}, codes.InvalidArgument, 413, CodeTooLarge, nil},
		{&http.MaxBytesError{Limit: 8}, codes.InvalidArgument, 413, CodeTooLarge, nil},
		{resource.GroupVersionMismatchError{Stored: stored}, codes.InvalidArgument, 409, CodeGroupVersion, nil},
		{resource.HistoryCompactedError{Oldest: 7}, codes.OutOfRange, 410, CodeHistoryCompacted, resource.ErrHistoryCompacted},
		{resource.ErrWatchOverflow, codes.ResourceExhausted, 503, CodeWatchOverflow, resource.ErrWatchOverflow},
		{fmt.Errorf("%w: %w", resource.ErrInconsistent, node.ErrNoLeader), codes.Unavailable, 503, CodeUnavailable, resource.ErrInconsistent},
		{fmt.Errorf("%w: %w", resource.ErrInconsistent, node.ErrUnknownOutcome), codes.Unknown, 504, CodeUnknownOutcome, node.ErrUnknownOutcome},
		{resource.ErrInconsistent, codes.Unavailable, 503, CodeInconsistent, resource.ErrInconsistent},
		{context.DeadlineExceeded, codes.DeadlineExceeded, 504, CodeTimeout, node.ErrTimeout},
		{errors.New("disk on fire"), codes.Internal, 500, CodeInternal, nil},
	}
	for _, tc := range cases {
		to := classify(tc.err)
		if to.grpc != tc.grpc || to.http != tc.http || to.code != tc.code {
			t.Errorf("%v: got %+v, want %v/%d/%s", tc.err, to, tc.grpc, tc.http, tc.code)
		}
		gerr := grpcError(tc.err)
		if status.Code(gerr) != tc.grpc {
			t.Errorf("%v: gRPC code %v", tc.err, status.Code(gerr))
		}
		back := FromGRPCError(gerr, stored.Id.Type)
		if tc.target != nil && !errors.Is(back, tc.target) {
			t.Errorf("%v: FromGRPCError gave %v", tc.err, back)
		}
	}
	var ve resource.ValidationError
	if err := FromGRPCError(grpcError(badField("owner.uid", "required")), nil); !errors.As(err, &ve) || ve.Field != "owner.uid" {
		t.Errorf("validation error back: %v", err)
	}
	var gvm resource.GroupVersionMismatchError
	if err := FromGRPCError(grpcError(resource.GroupVersionMismatchError{Stored: stored}), stored.Id.Type); !errors.As(err, &gvm) || gvm.Stored.GetVersion() != "3" {
		t.Errorf("group version mismatch back: %v", err)
	}
	var hc resource.HistoryCompactedError
	if err := FromGRPCError(grpcError(resource.HistoryCompactedError{Oldest: 7}), nil); !errors.As(err, &hc) || hc.Oldest != 7 {
		t.Errorf("history compacted back: %v", err)
	}
}
