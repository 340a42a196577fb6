package bench

// The resource workloads speak Consul's ResourceService over gRPC
// (proto-public's generated client, the one Consul's own programs use), so
// they measure concord's typed-resource face the way its users call it.
// Each connection is pinned to one endpoint (round-robin) and shared by the
// workers as the KV workloads share theirs; the rest of a run (closed or
// open loop, warmup, progress, histograms, report) is the KV machinery.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Resource workloads.
const (
	// ResourceWrite is a compare-and-swap write: read a resource
	// (eventually: a stale version only loses the swap), then write it back
	// guarded by the version read. A lost swap counts as a conflict, not an
	// error.
	ResourceWrite = "resource-write"
	// ResourceRead reads random resources of the (preloaded) key space at
	// ResourceConsistency.
	ResourceRead = "resource-read"
	// ResourceWatch measures write-to-event latency of Watchers WatchList
	// watchers on one type, on the first endpoint.
	ResourceWatch = "resource-watch"
)

// Consistency levels of resource reads (Consul's names).
const (
	Strong   = "strong"
	Eventual = "eventual"
)

// consistencyModeKey with "consistent" asks Consul's ResourceService for a
// strong read.
const consistencyModeKey = "x-consul-consistency-mode"

// Resource types the workloads write: the watch workload has its own kind
// so that its watchers see only its writes.
var (
	benchItemType  = &pbresource.Type{Group: "bench", GroupVersion: "v1", Kind: "Item"}
	benchWatchType = &pbresource.Type{Group: "bench", GroupVersion: "v1", Kind: "Watched"}
	benchTenancy   = &pbresource.Tenancy{Partition: "default", Namespace: "default"}
)

// errResourceMissing is a read that found no resource: the preload did not
// happen or the store lost one.
var errResourceMissing = errors.New("resource read found nothing")

// isResource reports whether the workload is one of the resource
// workloads.
func isResource(workload string) bool {
	return workload == ResourceWrite || workload == ResourceRead || workload == ResourceWatch
}

// resourceName is the name of key-space index i: a valid Consul name that
// sorts in index order.
func resourceName(b []byte, i int) []byte {
	b = append(b, 'k')
	var num [20]byte
	d := strconv.AppendInt(num[:0], int64(i), 10)
	for range keyWidth - len(d) {
		b = append(b, '0')
	}
	return append(b, d...)
}

func resourceID(t *pbresource.Type, name string) *pbresource.ID {
	return &pbresource.ID{Type: t, Tenancy: benchTenancy, Name: name}
}

// dialResourceConn opens a gRPC connection to ep and checks that it serves
// the ResourceService.
func dialResourceConn(ctx context.Context, cfg Config, ep string) (*grpc.ClientConn, error) {
	timeout := cfg.DialTimeout
	// A List of a large key space (the preload's check) is several MB.
	tok := &tokenCreds{}
	cc, err := grpc.NewClient(ep, cfg.Security.grpcCreds(), grpc.WithPerRPCCredentials(tok),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", ep, err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if tok.token, err = cfg.Security.grpcToken(pctx, cc); err != nil {
		cc.Close()
		return nil, fmt.Errorf("endpoint %s: %w", ep, err)
	}
	_, err = pbresource.NewResourceServiceClient(cc).Read(pctx, &pbresource.ReadRequest{Id: resourceID(benchItemType, "probe")})
	if status.Code(err) == codes.Unimplemented {
		cc.Close()
		return nil, fmt.Errorf("endpoint %s does not serve Consul's ResourceService", ep)
	}
	if err != nil && status.Code(err) != codes.NotFound {
		cc.Close()
		return nil, fmt.Errorf("endpoint %s does not answer a resource read: %w", ep, err)
	}
	return cc, nil
}

// dialResource opens the connections and gives every worker its client.
func (r *runner) dialResource(ctx context.Context) error {
	cfg := r.cfg
	for i := range cfg.Conns {
		ep := endpointOfConn(cfg.Endpoints, i)
		cc, err := dialResourceConn(ctx, cfg, ep)
		if err != nil {
			return err
		}
		r.resConns = append(r.resConns, cc)
		if i < len(cfg.Endpoints) {
			r.used = append(r.used, ep)
		}
	}
	for i := range cfg.Clients {
		w := newWorker(cfg, i)
		w.res = pbresource.NewResourceServiceClient(r.resConns[connOfClient(cfg.Conns, i)])
		r.workers = append(r.workers, w)
	}
	return nil
}

// setupResource preloads the key space for resource-read and starts the
// watchers for resource-watch.
func (r *runner) setupResource(ctx context.Context) error {
	switch r.cfg.Workload {
	case ResourceRead:
		if r.cfg.Preload {
			if err := r.preloadResources(ctx); err != nil {
				return fmt.Errorf("preload: %w", err)
			}
		}
	case ResourceWatch:
		return r.startResourceWatchers(ctx)
	}
	return nil
}

// preloadResources writes every resource of the key space unless a strong
// List finds them all there.
func (r *runner) preloadResources(ctx context.Context) error {
	cfg := r.cfg
	lctx, cancel := context.WithTimeout(strongRead(ctx), cfg.Timeout)
	resp, err := r.workers[0].res.List(lctx, &pbresource.ListRequest{Type: benchItemType, Tenancy: benchTenancy, NamePrefix: "k"})
	cancel()
	if err != nil {
		return err
	}
	if len(resp.Resources) >= cfg.KeySpace {
		return nil
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "preloading %d resources...\n", cfg.KeySpace)
	}
	r.fillNext.Store(0)
	errc := make(chan error, len(r.workers))
	for _, w := range r.workers {
		go func() {
			for {
				i := r.fillNext.Add(1) - 1
				if i >= int64(cfg.KeySpace) {
					errc <- nil
					return
				}
				octx, cancel := context.WithTimeout(ctx, cfg.Timeout)
				err := w.writeResource(octx, benchItemType, string(resourceName(w.key[:0], int(i))), "", nil)
				cancel()
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var errs []error
	for range r.workers {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

// strongRead asks for a strong read (Consul's metadata).
func strongRead(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, consistencyModeKey, "consistent")
}

// writeResource writes the worker's value under name; with a version (and
// the uid it was read with) the write is a compare-and-swap.
func (w *worker) writeResource(ctx context.Context, t *pbresource.Type, name, version string, id *pbresource.ID) error {
	data, err := anypb.New(wrapperspb.Bytes(w.val))
	if err != nil {
		return err
	}
	if id == nil {
		id = resourceID(t, name)
	}
	_, err = w.res.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: id, Version: version, Data: data}})
	return err
}

// resourceOp sends one request of a resource workload.
func (r *runner) resourceOp(ctx context.Context, w *worker, due time.Time) error {
	cfg := r.cfg
	i := w.rng.IntN(cfg.KeySpace)
	if cfg.OwnedKeys {
		// The keys whose index is w.id modulo Clients.
		i = w.id + cfg.Clients*w.rng.IntN((cfg.KeySpace-w.id+cfg.Clients-1)/cfg.Clients)
	}
	w.key = resourceName(w.key[:0], i)
	name := string(w.key)
	switch cfg.Workload {
	case ResourceRead:
		rctx := ctx
		if cfg.ResourceConsistency == Strong {
			rctx = strongRead(ctx)
		}
		resp, err := w.res.Read(rctx, &pbresource.ReadRequest{Id: resourceID(benchItemType, name)})
		if status.Code(err) == codes.NotFound {
			return errResourceMissing
		}
		if err == nil && resp.GetResource() == nil {
			return errResourceMissing
		}
		return err
	case ResourceWrite:
		return r.resourceCAS(ctx, w, name)
	case ResourceWatch:
		// The value carries the intended send time for the watchers.
		binary.BigEndian.PutUint64(w.val, uint64(due.UnixNano()))
		return w.writeResource(ctx, benchWatchType, r.watchPrefix+name, "", nil)
	}
	panic("not a resource workload: " + cfg.Workload)
}

// resourceCAS reads the resource (eventually) and writes it back guarded by
// the version read; a missing one is created. Aborted is a lost swap. With
// OwnedKeys the version comes from the worker's own last write of the key
// when it has one, and the read is skipped.
func (r *runner) resourceCAS(ctx context.Context, w *worker, name string) error {
	var version string
	var id *pbresource.ID
	if last, ok := w.owned[name]; ok {
		version, id = last.GetVersion(), last.GetId()
	} else {
		resp, err := w.res.Read(ctx, &pbresource.ReadRequest{Id: resourceID(benchItemType, name)})
		switch {
		case err == nil:
			version, id = resp.GetResource().GetVersion(), resp.GetResource().GetId()
		case status.Code(err) == codes.NotFound:
		default:
			return err
		}
	}
	data, err := anypb.New(wrapperspb.Bytes(w.val))
	if err != nil {
		return err
	}
	if id == nil {
		id = resourceID(benchItemType, name)
	}
	resp, err := w.res.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: id, Version: version, Data: data}})
	if r.cfg.OwnedKeys {
		if w.owned == nil {
			w.owned = map[string]*pbresource.Resource{}
		}
		if err == nil {
			w.owned[name] = resp.GetResource()
		} else {
			delete(w.owned, name) // read it again next time
		}
	}
	if status.Code(err) == codes.Aborted {
		w.rec.conflict()
		return nil
	}
	return err
}
