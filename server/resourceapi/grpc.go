package resourceapi

import (
	"context"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/concord-db/concord/resource"
)

// gRPC metadata keys the service reads and sets.
const (
	// ConsistencyModeKey with the value "consistent" asks for a strong
	// read (Consul's convention); anything else reads eventually.
	ConsistencyModeKey = "x-consul-consistency-mode"
	// FromVersionKey on a WatchList resumes the watch after that version
	// (a concord extension): no snapshot, every change after it in order.
	FromVersionKey = "x-concord-from-version"
	// RevisionKey is the header a WatchList sends before its first event:
	// the store version its snapshot (or resume point) stands at.
	RevisionKey = "x-concord-revision"
)

// Register adds the ResourceService to s.
func (a *API) Register(s *grpc.Server) { pbresource.RegisterResourceServiceServer(s, a) }

// consistencyFrom reads Consul's consistency metadata from ctx.
func consistencyFrom(ctx context.Context) resource.ReadConsistency {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(ConsistencyModeKey) {
		if strings.EqualFold(v, "consistent") {
			return resource.StrongConsistency
		}
	}
	return resource.EventualConsistency
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
	res, err := a.write(ctx, req.GetResource())
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
	if err := checkType("type", t); err != nil {
		return nil, err
	}
	if err := checkTenancy("tenancy", ten); err != nil {
		return nil, err
	}
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
	return a.cfg.Backend.ListByOwner(ctx, c, owner)
}

// Delete deletes a resource (see remove).
func (a *API) Delete(ctx context.Context, req *pbresource.DeleteRequest) (*pbresource.DeleteResponse, error) {
	err := a.remove(ctx, req.GetId(), req.GetVersion())
	a.observe("delete", err)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pbresource.DeleteResponse{}, nil
}

// MutateAndValidate answers with the resource as Write would take it
// (validated; concord has no mutation hooks) without writing it.
func (a *API) MutateAndValidate(ctx context.Context, req *pbresource.MutateAndValidateRequest) (*pbresource.MutateAndValidateResponse, error) {
	err := a.checkResource(req.GetResource())
	a.observe("mutate_and_validate", err)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pbresource.MutateAndValidateResponse{Resource: req.Resource}, nil
}

// WatchList streams a list watch: the current state as upserts, then
// end_of_snapshot, then every change. Before the first event the header
// RevisionKey says which store version the snapshot stands at; a delete
// event's resource carries the version of the deletion, so a client
// resumes (FromVersionKey) from the last version it saw, whatever the
// event, with no gap and no duplicate.
func (a *API) WatchList(req *pbresource.WatchListRequest, stream grpc.ServerStreamingServer[pbresource.WatchEvent]) error {
	ctx := stream.Context()
	from, err := fromVersionMD(ctx)
	if err != nil {
		return grpcError(err)
	}
	w, err := a.watch(ctx, req.GetType(), req.GetTenancy(), req.GetNamePrefix(), from)
	a.observe("watch", err)
	if err != nil {
		return grpcError(err)
	}
	defer w.Close()
	a.m.watchers.Inc()
	defer a.m.watchers.Dec()
	// Hold the snapshot until its end to learn the version it stands at.
	var held []*pbresource.WatchEvent
	headerSent := false
	if from > 0 {
		if err := stream.SendHeader(metadata.Pairs(RevisionKey, strconv.FormatUint(from, 10))); err != nil {
			return err
		}
		headerSent = true
	}
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			return grpcError(err)
		}
		out := toWatchEvent(ev)
		a.m.watchEvents.WithLabelValues(eventTypes[ev.Kind]).Inc()
		if !headerSent {
			held = append(held, out)
			if ev.Kind != resource.EndOfSnapshot {
				continue
			}
			if err := stream.SendHeader(metadata.Pairs(RevisionKey, strconv.FormatUint(ev.Version, 10))); err != nil {
				return err
			}
			headerSent = true
			for _, h := range held {
				if err := stream.Send(h); err != nil {
					return err
				}
			}
			held = nil
			continue
		}
		if err := stream.Send(out); err != nil {
			return err
		}
	}
}

func (a *API) watch(ctx context.Context, t *pbresource.Type, ten *pbresource.Tenancy, prefix string, from uint64) (Watcher, error) {
	if err := checkType("type", t); err != nil {
		return nil, err
	}
	if err := checkTenancy("tenancy", ten); err != nil {
		return nil, err
	}
	return a.cfg.Backend.WatchList(ctx, resource.UnversionedType{Group: t.Group, Kind: t.Kind}, ten, prefix, from)
}

func fromVersionMD(ctx context.Context) (uint64, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vs := md.Get(FromVersionKey)
	if len(vs) == 0 || vs[0] == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(vs[0], 10, 64)
	if err != nil {
		return 0, badField(FromVersionKey, "want a version number, got %q", vs[0])
	}
	return v, nil
}

// toWatchEvent is ev on Consul's wire.
func toWatchEvent(ev resource.Event) *pbresource.WatchEvent {
	switch ev.Kind {
	case resource.Upsert:
		return &pbresource.WatchEvent{Event: &pbresource.WatchEvent_Upsert_{Upsert: &pbresource.WatchEvent_Upsert{Resource: ev.Resource}}}
	case resource.Delete:
		return &pbresource.WatchEvent{Event: &pbresource.WatchEvent_Delete_{Delete: &pbresource.WatchEvent_Delete{Resource: deletedAt(ev)}}}
	default:
		return &pbresource.WatchEvent{Event: &pbresource.WatchEvent_EndOfSnapshot_{EndOfSnapshot: &pbresource.WatchEvent_EndOfSnapshot{}}}
	}
}

// deletedAt is a delete event's resource with the deletion's version.
func deletedAt(ev resource.Event) *pbresource.Resource {
	v := strconv.FormatUint(ev.Version, 10)
	if ev.Resource == nil || ev.Resource.Version == v {
		return ev.Resource
	}
	r := ev.Resource
	return &pbresource.Resource{Id: r.Id, Owner: r.Owner, Version: v, Generation: r.Generation,
		Metadata: r.Metadata, Status: r.Status, Data: r.Data}
}
