package resourceapi

import (
	"context"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/server/connlimit"
)

// gRPC metadata keys the service reads and sets.
const (
	// ConsistencyModeKey with the value "consistent" asks for a strong
	// read (Consul's convention); anything else reads eventually.
	ConsistencyModeKey = "x-consul-consistency-mode"
	// FromVersionKey on a WatchList resumes the watch after that version
	// (a concord extension): no snapshot, every change after it in order.
	FromVersionKey = "x-concord-from-version"
	// WatchStartedKey is the header a WatchList sends once the watch is
	// established.
	WatchStartedKey = "x-concord-watch-started"
	// StrictCASKey with the value "true" makes Write and Delete follow the
	// storage contract exactly (resource.Backend's WriteCAS and DeleteCAS)
	// instead of Consul's convenience: an empty version creates only if
	// absent (deletes only if absent: a no-op), and an update must name
	// the stored uid. A concord extension, for create-only writes.
	StrictCASKey = "x-concord-strict-cas"
)

// Register adds the ResourceService to s.
func (a *API) Register(s *grpc.Server) { pbresource.RegisterResourceServiceServer(s, a) }

// consistencyFrom reads Consul's consistency metadata from ctx.
func consistencyFrom(ctx context.Context) resource.ReadConsistency {
	if mdFlag(ctx, ConsistencyModeKey, "consistent") {
		return resource.StrongConsistency
	}
	return resource.EventualConsistency
}

// mdFlag reports whether metadata key has the value want.
func mdFlag(ctx context.Context, key, want string) bool {
	// ValueFromIncomingContext reads one key without copying the whole
	// metadata, which FromIncomingContext does on every call.
	for _, v := range metadata.ValueFromIncomingContext(ctx, key) {
		if strings.EqualFold(v, want) {
			return true
		}
	}
	return false
}

// Read returns one resource.
func (a *API) Read(ctx context.Context, req *pbresource.ReadRequest) (*pbresource.ReadResponse, error) {
	res, err := a.read(ctx, consistencyFrom(ctx), req.GetId())
	a.observe("read", err)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pbresource.ReadResponse{Resource: res}, nil
}

func (a *API) read(ctx context.Context, c resource.ReadConsistency, id *pbresource.ID) (*pbresource.Resource, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	res, err := a.cfg.Backend.Read(ctx, c, id)
	if err == nil && id.Uid != "" && res.GetId().GetUid() != id.Uid {
		// The named incarnation is gone; another one has the name now.
		return nil, resource.ErrNotFound
	}
	return res, err
}

// Write creates or updates a resource (see write).
func (a *API) Write(ctx context.Context, req *pbresource.WriteRequest) (*pbresource.WriteResponse, error) {
	res, err := a.write(ctx, req.GetResource(), mdFlag(ctx, StrictCASKey, "true"))
	a.observe("write", err)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pbresource.WriteResponse{Resource: res}, nil
}

// WriteStatus sets one status key of a resource.
func (a *API) WriteStatus(ctx context.Context, req *pbresource.WriteStatusRequest) (*pbresource.WriteStatusResponse, error) {
	res, err := a.writeStatus(ctx, req)
	a.observe("write_status", err)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pbresource.WriteStatusResponse{Resource: res}, nil
}

// List returns the resources of a type in a tenancy ("*" matches every
// partition or namespace) whose names start with a prefix.
func (a *API) List(ctx context.Context, req *pbresource.ListRequest) (*pbresource.ListResponse, error) {
	res, err := a.list(ctx, consistencyFrom(ctx), req.GetType(), req.GetTenancy(), req.GetNamePrefix())
	a.observe("list", err)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pbresource.ListResponse{Resources: res}, nil
}

func (a *API) list(ctx context.Context, c resource.ReadConsistency, t *pbresource.Type, ten *pbresource.Tenancy, prefix string) ([]*pbresource.Resource, error) {
	if err := checkUnversioned("type", t); err != nil {
		return nil, err
	}
	if err := checkTenancy("tenancy", ten); err != nil {
		return nil, err
	}
	ctx = resource.WithListByteCap(ctx, a.cfg.MaxListBytes)
	return a.cfg.Backend.List(ctx, c, resource.UnversionedType{Group: t.Group, Kind: t.Kind}, ten, prefix)
}

// ListByOwner returns the resources an owner (with its uid) owns.
func (a *API) ListByOwner(ctx context.Context, req *pbresource.ListByOwnerRequest) (*pbresource.ListByOwnerResponse, error) {
	res, err := a.listByOwner(ctx, consistencyFrom(ctx), req.GetOwner())
	a.observe("list_by_owner", err)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pbresource.ListByOwnerResponse{Resources: res}, nil
}

func (a *API) listByOwner(ctx context.Context, c resource.ReadConsistency, owner *pbresource.ID) ([]*pbresource.Resource, error) {
	if err := checkID("owner", owner); err != nil {
		return nil, err
	}
	if owner.Uid == "" {
		return nil, badField("owner.uid", "required")
	}
	ctx = resource.WithListByteCap(ctx, a.cfg.MaxListBytes)
	return a.cfg.Backend.ListByOwner(ctx, c, owner)
}

// Delete deletes a resource (see remove).
func (a *API) Delete(ctx context.Context, req *pbresource.DeleteRequest) (*pbresource.DeleteResponse, error) {
	err := a.remove(ctx, req.GetId(), req.GetVersion(), mdFlag(ctx, StrictCASKey, "true"))
	a.observe("delete", err)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pbresource.DeleteResponse{}, nil
}

// MutateAndValidate answers with the resource as Write would take it
// (validated; concord has no mutation hooks) without writing it. It is
// authorised like Write (WriteChecker).
func (a *API) MutateAndValidate(ctx context.Context, req *pbresource.MutateAndValidateRequest) (*pbresource.MutateAndValidateResponse, error) {
	err := a.checkResource(req.GetResource())
	if err == nil {
		err = a.checkWrite(ctx, req.GetResource().GetId())
	}
	a.observe("mutate_and_validate", err)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pbresource.MutateAndValidateResponse{Resource: req.Resource}, nil
}

// WatchList streams a list watch: the current state as upserts, then
// end_of_snapshot, then every change. The stream's header is sent once
// the watch is established (a bad request fails before it). Every event
// carries the store version it happened at in field EventVersionField, a
// field Consul's clients do not know and skip (EventVersion reads it); a
// client resumes with FromVersionKey set to the last one it saw, with no
// gap and no duplicate.
func (a *API) WatchList(req *pbresource.WatchListRequest, stream grpc.ServerStreamingServer[pbresource.WatchEvent]) error {
	ctx := stream.Context()
	from, err := fromVersionMD(ctx)
	if err != nil {
		a.observe("watch", err)
		return grpcError(err)
	}
	// The client port's cap on watches per connection, shared with
	// etcd's Watch (server/connlimit).
	conn := connlimit.FromContext(ctx)
	if !conn.AcquireWatch() {
		return status.Errorf(codes.ResourceExhausted, "too many watches on this connection (--max-watches-per-connection %d)", conn.MaxWatches())
	}
	defer conn.ReleaseWatch()
	w, err := a.watch(ctx, req.GetType(), req.GetTenancy(), req.GetNamePrefix(), from)
	a.observe("watch", err)
	if err != nil {
		return grpcError(err)
	}
	defer w.Close()
	a.m.watchers.Inc()
	defer a.m.watchers.Dec()
	if err := stream.SendHeader(metadata.Pairs(WatchStartedKey, "true")); err != nil {
		return err
	}
	// Events come in batches (what queued since the last wakeup), each
	// encoded once for all watchers (fanout.go); sending a batch's
	// messages back to back lets gRPC write them in one flush.
	buf := make([]resource.Event, 0, watchBatch)
	for {
		evs, err := nextBatch(ctx, w, buf)
		if err != nil {
			return grpcError(err)
		}
		for i := range evs {
			b, err := a.events.get(evs[i], wireGRPC, marshalWatchEvent)
			if err != nil {
				return grpcError(err)
			}
			a.m.eventSent(evs[i].Kind)
			if err := stream.SendMsg(&encodedMsg{b: b}); err != nil {
				return err
			}
			evs[i] = resource.Event{}
		}
		buf = evs
	}
}

func (a *API) watch(ctx context.Context, t *pbresource.Type, ten *pbresource.Tenancy, prefix string, from uint64) (Watcher, error) {
	if err := checkUnversioned("type", t); err != nil {
		return nil, err
	}
	if err := checkTenancy("tenancy", ten); err != nil {
		return nil, err
	}
	return a.cfg.Backend.WatchList(ctx, resource.UnversionedType{Group: t.Group, Kind: t.Kind}, ten, prefix, from)
}

func fromVersionMD(ctx context.Context) (uint64, error) {
	vs := metadata.ValueFromIncomingContext(ctx, FromVersionKey)
	if len(vs) == 0 || vs[0] == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(vs[0], 10, 64)
	if err != nil {
		return 0, badField(FromVersionKey, "want a version number, got %q", vs[0])
	}
	return v, nil
}

// EventVersionField is the field number of the store version on every
// WatchEvent concord sends (a varint). It is not in Consul's
// WatchEvent, so Consul's clients keep it as an unknown field.
const EventVersionField protowire.Number = 1001

// toWatchEvent is ev on Consul's wire, with its version.
func toWatchEvent(ev resource.Event) *pbresource.WatchEvent {
	var out *pbresource.WatchEvent
	switch ev.Kind {
	case resource.Upsert:
		out = &pbresource.WatchEvent{Event: &pbresource.WatchEvent_Upsert_{Upsert: &pbresource.WatchEvent_Upsert{Resource: ev.Resource}}}
	case resource.Delete:
		out = &pbresource.WatchEvent{Event: &pbresource.WatchEvent_Delete_{Delete: &pbresource.WatchEvent_Delete{Resource: ev.Resource}}}
	default:
		out = &pbresource.WatchEvent{Event: &pbresource.WatchEvent_EndOfSnapshot_{EndOfSnapshot: &pbresource.WatchEvent_EndOfSnapshot{}}}
	}
	b := protowire.AppendTag(nil, EventVersionField, protowire.VarintType)
	out.ProtoReflect().SetUnknown(protowire.AppendVarint(b, ev.Version))
	return out
}

// EventVersion is the store version concord put on a WatchEvent, and
// false if it carries none (it did not come from concord).
func EventVersion(ev *pbresource.WatchEvent) (uint64, bool) {
	b := ev.ProtoReflect().GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == EventVersionField && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			return v, m >= 0
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, false
		}
		b = b[m:]
	}
	return 0, false
}
