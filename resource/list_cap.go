package resource

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// ErrListTooLarge is returned by List and ListByOwner, before anything is
// copied, when the resources they would return pass the byte cap of their
// context (WithListByteCap).
var ErrListTooLarge = errors.New("resource: list too large")

type listCapKey struct{}

// WithListByteCap returns ctx carrying a cap on what List and ListByOwner
// may return: the encoded size of the resources, as a list response holds
// them. The client port sets it from its --max-range-bytes; maxBytes <= 0
// is no cap.
func WithListByteCap(ctx context.Context, maxBytes int64) context.Context {
	if maxBytes <= 0 {
		return ctx
	}
	return context.WithValue(ctx, listCapKey{}, maxBytes)
}

// checkListSize refuses rs, the stored (shared, not yet cloned) resources
// a list found, when their encoded size passes ctx's cap. It stops
// counting at the first resource past it.
func checkListSize(ctx context.Context, rs []*pbresource.Resource) error {
	limit, ok := ctx.Value(listCapKey{}).(int64)
	if !ok {
		return nil
	}
	var total int64
	for _, r := range rs {
		n := proto.Size(r)
		total += int64(protowire.SizeTag(1) + protowire.SizeBytes(n))
		if total > limit {
			return fmt.Errorf("%w: more than %d bytes of resources (--max-range-bytes); narrow it with a name prefix or a tenancy", ErrListTooLarge, limit)
		}
	}
	return nil
}
