package bench

import (
	"context"
	"errors"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/status"
)

// errorKind names an error for the errors-by-kind table: the gRPC code and
// the server's message (etcd's error strings are stable), or "timeout".
func errorKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code().String() + ": " + truncate(ee.Error())
	}
	if s, ok := status.FromError(err); ok {
		if s.Code().String() == "DeadlineExceeded" {
			return "timeout"
		}
		return s.Code().String() + ": " + truncate(s.Message())
	}
	return truncate(err.Error())
}

func truncate(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 100 {
		return s[:97] + "..."
	}
	return s
}
