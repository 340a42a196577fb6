package agent

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/server/resourceapi"
)

// resourceAuthBackend is the resource face's backend behind the auth
// check: every call asks the auth store first, with the identity the
// client port's guard (HTTP) or interceptor (gRPC) put in the context
// (auth.IdentityFromContext), so that typed resources are guarded by the
// same users and roles as the key-value store.
//
// Permissions are on type and tenancy, in auth.NamespaceResource with key
// auth.ResourceKey(group, kind, partition, namespace), i.e.
// "\x00resource/<group>/<kind>/<partition>/<namespace>": reads (Read,
// List, WatchList) need read, writes (WriteCAS, WriteStatus, DeleteCAS)
// need write on the resource's key, and so does MutateAndValidate, the
// dry run of a write (CheckWrite). A list or watch whose partition or
// namespace is "*" needs read on the whole prefix it spans
// ("<group>/<kind>/" or "<group>/<kind>/<partition>/"). ListByOwner needs
// read on the owner and answers only the owned resources the caller may
// read.
type resourceAuthBackend struct {
	next resourceapi.Backend
	auth *auth.Store
}

var (
	_ resourceapi.Backend      = resourceAuthBackend{}
	_ resourceapi.WriteChecker = resourceAuthBackend{}
)

// enabled reports whether calls are checked at all.
func (b resourceAuthBackend) enabled() bool { return b.auth != nil && b.auth.Enabled() }

// check authorizes op on [key, end) (end nil: the single key).
func (b resourceAuthBackend) check(ctx context.Context, op auth.Op, key, end []byte) error {
	if !b.enabled() {
		return nil
	}
	id, _ := auth.IdentityFromContext(ctx)
	return b.checkAs(ctx, id, op, key, end)
}

// checkAs is check for the user id.
func (b resourceAuthBackend) checkAs(ctx context.Context, id auth.Identity, op auth.Op, key, end []byte) error {
	if err := b.auth.Authorize(ctx, auth.Request{User: id, Op: op, Namespace: auth.NamespaceResource, Key: key, RangeEnd: end}); err != nil {
		if end != nil {
			return fmt.Errorf("resource: %s on %q and all under it: %w", op, key, err)
		}
		return fmt.Errorf("resource: %s on %q: %w", op, key, err)
	}
	return nil
}

// idKey is the permission key of the resource id names.
func idKey(id *pbresource.ID) []byte {
	t, ten := id.GetType(), id.GetTenancy()
	return auth.ResourceKey(t.GetGroup(), t.GetKind(), ten.GetPartition(), ten.GetNamespace())
}

// queryRange is the permission range of a list or watch: the single key
// of its type and tenancy, or, for a "*" partition or namespace, every key
// under the part before it.
func queryRange(t resource.UnversionedType, ten *pbresource.Tenancy) (key, end []byte) {
	p, ns := ten.GetPartition(), ten.GetNamespace()
	switch {
	case p == resource.Wildcard:
		key = []byte(t.Group + "/" + t.Kind + "/")
	case ns == resource.Wildcard:
		key = []byte(t.Group + "/" + t.Kind + "/" + p + "/")
	default:
		return auth.ResourceKey(t.Group, t.Kind, p, ns), nil
	}
	return key, auth.PrefixEnd(key)
}

func (b resourceAuthBackend) Read(ctx context.Context, c resource.ReadConsistency, id *pbresource.ID) (*pbresource.Resource, error) {
	if err := b.check(ctx, auth.OpRead, idKey(id), nil); err != nil {
		return nil, err
	}
	return b.next.Read(ctx, c, id)
}

// stamped returns ctx with the auth state a check is about to see: the
// writes proposed with it are refused at apply if that state moves
// (auth/stamp.go).
func (b resourceAuthBackend) stamped(ctx context.Context) context.Context {
	return auth.WithStamp(ctx, b.auth.Stamp())
}

func (b resourceAuthBackend) WriteCAS(ctx context.Context, res *pbresource.Resource) (*pbresource.Resource, error) {
	ctx = b.stamped(ctx)
	if err := b.check(ctx, auth.OpWrite, idKey(res.GetId()), nil); err != nil {
		return nil, err
	}
	return b.next.WriteCAS(ctx, res)
}

// CheckWrite is WriteCAS's check alone: MutateAndValidate, a dry run of
// a write, is authorised like the write.
func (b resourceAuthBackend) CheckWrite(ctx context.Context, id *pbresource.ID) error {
	return b.check(ctx, auth.OpWrite, idKey(id), nil)
}

func (b resourceAuthBackend) WriteStatus(ctx context.Context, id *pbresource.ID, version, key string, status *pbresource.Status) (*pbresource.Resource, error) {
	ctx = b.stamped(ctx)
	if err := b.check(ctx, auth.OpWrite, idKey(id), nil); err != nil {
		return nil, err
	}
	return b.next.WriteStatus(ctx, id, version, key, status)
}

func (b resourceAuthBackend) DeleteCAS(ctx context.Context, id *pbresource.ID, version string) error {
	ctx = b.stamped(ctx)
	if err := b.check(ctx, auth.OpWrite, idKey(id), nil); err != nil {
		return err
	}
	return b.next.DeleteCAS(ctx, id, version)
}

func (b resourceAuthBackend) List(ctx context.Context, c resource.ReadConsistency, t resource.UnversionedType, ten *pbresource.Tenancy, namePrefix string) ([]*pbresource.Resource, error) {
	key, end := queryRange(t, ten)
	if err := b.check(ctx, auth.OpRead, key, end); err != nil {
		return nil, err
	}
	return b.next.List(ctx, c, t, ten, namePrefix)
}

// ListByOwner needs read on the owner (the answer tells about it), and
// leaves out the owned resources the caller may not read: they may be of
// any type and tenancy.
func (b resourceAuthBackend) ListByOwner(ctx context.Context, c resource.ReadConsistency, owner *pbresource.ID) ([]*pbresource.Resource, error) {
	if !b.enabled() {
		return b.next.ListByOwner(ctx, c, owner)
	}
	if err := b.check(ctx, auth.OpRead, idKey(owner), nil); err != nil {
		return nil, err
	}
	all, err := b.next.ListByOwner(ctx, c, owner)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, r := range all {
		if b.check(ctx, auth.OpRead, idKey(r.GetId()), nil) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

func (b resourceAuthBackend) WatchList(ctx context.Context, t resource.UnversionedType, ten *pbresource.Tenancy, namePrefix string, from uint64) (resourceapi.Watcher, error) {
	if b.auth == nil {
		return b.next.WatchList(ctx, t, ten, namePrefix, from)
	}
	// Guarded even while auth is off: enabling it ends a watch opened
	// without credentials.
	key, end := queryRange(t, ten)
	return b.newAuthWatch(ctx, key, end, func(ctx context.Context) (resourceapi.Watcher, error) {
		return b.next.WatchList(ctx, t, ten, namePrefix, from)
	})
}
