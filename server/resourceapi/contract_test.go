package resourceapi_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/resource/resourcetest"
	"github.com/concord-db/concord/server/resourceapi"
)

// grpcBackend is the storage contract (resourcetest.Backend) spoken
// through proto-public's generated ResourceServiceClient: strong reads
// with Consul's consistency metadata, WriteCAS and DeleteCAS as Write and
// Delete with concord's strict-CAS metadata, resumable watches with
// x-concord-from-version, and errors rebuilt by FromGRPCError.
type grpcBackend struct {
	c pbresource.ResourceServiceClient
}

func dialMember(t testing.TB, addr string) pbresource.ResourceServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pbresource.NewResourceServiceClient(conn)
}

func withConsistency(ctx context.Context, c resource.ReadConsistency) context.Context {
	if c == resource.StrongConsistency {
		return metadata.AppendToOutgoingContext(ctx, resourceapi.ConsistencyModeKey, "consistent")
	}
	return ctx
}

func strict(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, resourceapi.StrictCASKey, "true")
}

func (g grpcBackend) Read(ctx context.Context, c resource.ReadConsistency, id *pbresource.ID) (*pbresource.Resource, error) {
	resp, err := g.c.Read(withConsistency(ctx, c), &pbresource.ReadRequest{Id: id})
	return resp.GetResource(), resourceapi.FromGRPCError(err, id.GetType())
}

func (g grpcBackend) WriteCAS(ctx context.Context, res *pbresource.Resource) (*pbresource.Resource, error) {
	resp, err := g.c.Write(strict(ctx), &pbresource.WriteRequest{Resource: res})
	return resp.GetResource(), resourceapi.FromGRPCError(err, res.GetId().GetType())
}

func (g grpcBackend) WriteStatus(ctx context.Context, id *pbresource.ID, version, key string, st *pbresource.Status) (*pbresource.Resource, error) {
	resp, err := g.c.WriteStatus(ctx, &pbresource.WriteStatusRequest{Id: id, Version: version, Key: key, Status: st})
	return resp.GetResource(), resourceapi.FromGRPCError(err, id.GetType())
}

func (g grpcBackend) DeleteCAS(ctx context.Context, id *pbresource.ID, version string) error {
	_, err := g.c.Delete(strict(ctx), &pbresource.DeleteRequest{Id: id, Version: version})
	return resourceapi.FromGRPCError(err, id.GetType())
}

func pbType(t resource.UnversionedType) *pbresource.Type {
	return &pbresource.Type{Group: t.Group, Kind: t.Kind}
}

func (g grpcBackend) List(ctx context.Context, c resource.ReadConsistency, t resource.UnversionedType, ten *pbresource.Tenancy, prefix string) ([]*pbresource.Resource, error) {
	resp, err := g.c.List(withConsistency(ctx, c), &pbresource.ListRequest{Type: pbType(t), Tenancy: ten, NamePrefix: prefix})
	return resp.GetResources(), resourceapi.FromGRPCError(err, nil)
}

func (g grpcBackend) ListByOwner(ctx context.Context, c resource.ReadConsistency, owner *pbresource.ID) ([]*pbresource.Resource, error) {
	resp, err := g.c.ListByOwner(withConsistency(ctx, c), &pbresource.ListByOwnerRequest{Owner: owner})
	return resp.GetResources(), resourceapi.FromGRPCError(err, nil)
}

func (g grpcBackend) WatchList(ctx context.Context, t resource.UnversionedType, ten *pbresource.Tenancy, prefix string, from uint64) (resourcetest.Watch, error) {
	ctx, cancel := context.WithCancel(ctx)
	if from > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, resourceapi.FromVersionKey, strconv.FormatUint(from, 10))
	}
	stream, err := g.c.WatchList(ctx, &pbresource.WatchListRequest{Type: pbType(t), Tenancy: ten, NamePrefix: prefix})
	if err == nil {
		// The header comes once the watch is established; a refused
		// watch ends without one.
		var md metadata.MD
		if md, err = stream.Header(); err == nil && len(md.Get(resourceapi.WatchStartedKey)) == 0 {
			_, err = stream.Recv()
		}
	}
	if err != nil {
		cancel()
		return nil, resourceapi.FromGRPCError(err, nil)
	}
	return &grpcWatch{stream: stream, cancel: cancel}, nil
}

type grpcWatch struct {
	stream grpc.ServerStreamingClient[pbresource.WatchEvent]
	cancel context.CancelFunc
	once   sync.Once
}

// Next receives the next event. The stream is bound to the watch's
// context, not ctx: a ctx that ends stops the wait by closing the watch.
func (w *grpcWatch) Next(ctx context.Context) (resource.Event, error) {
	stop := context.AfterFunc(ctx, w.Close)
	defer stop()
	ev, err := w.stream.Recv()
	if err != nil {
		if ctx.Err() != nil {
			return resource.Event{}, ctx.Err()
		}
		return resource.Event{}, resourceapi.FromGRPCError(err, nil)
	}
	version, _ := resourceapi.EventVersion(ev)
	switch e := ev.Event.(type) {
	case *pbresource.WatchEvent_Upsert_:
		return resource.Event{Kind: resource.Upsert, Resource: e.Upsert.Resource, Version: version}, nil
	case *pbresource.WatchEvent_Delete_:
		return resource.Event{Kind: resource.Delete, Resource: e.Delete.Resource, Version: version}, nil
	default:
		return resource.Event{Kind: resource.EndOfSnapshot, Version: version}, nil
	}
}

func (w *grpcWatch) Close() { w.once.Do(w.cancel) }

// TestContractOverGRPC runs the resource store's contract through the
// gRPC API of a three-member cluster with proto-public's client: writes
// through followers, reads on every member.
func TestContractOverGRPC(t *testing.T) {
	// A cap under the client port's message limit, so that an oversized
	// resource reaches the API (beyond the limit gRPC refuses it with
	// ResourceExhausted before any handler runs).
	const maxBytes = 64 << 10
	c := agenttest.Start(t, 3, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.Resource.MaxResourceBytes = maxBytes
	}})
	leader := c.Leader()
	var bs []resourcetest.Backend
	for i := range c.Size() {
		if i != leader {
			bs = append(bs, grpcBackend{dialMember(t, c.Endpoint(i))})
		}
	}
	bs = append(bs, grpcBackend{dialMember(t, c.Endpoint(leader))})
	resourcetest.RunContract(t, resourcetest.Options{
		Backends:         func(*testing.T) []resourcetest.Backend { return bs },
		MaxResourceBytes: maxBytes,
	})
}
