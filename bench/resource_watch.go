package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc"
)

// The resource watchers are Watchers WatchList streams on one type, on the
// first endpoint, spread over WatchStreams gRPC connections (a WatchList
// is one server stream per watcher; many share a connection as Consul's
// controllers share theirs). Each watcher is read by its own goroutine and
// records, for every upsert of a measured write, the time from the
// write's intended send time (in its data) to the event's arrival.

// startResourceWatchers starts the watchers and waits until every one has
// had its end_of_snapshot. The watchers and writes of one run share a name
// prefix of their own, so the watchers start with an empty snapshot
// whatever earlier runs left in the store.
func (r *runner) startResourceWatchers(ctx context.Context) error {
	cfg := r.cfg
	r.watchPrefix = "w" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	ws := &watchState{n: cfg.Watchers}
	r.watch = ws
	streams := min(cfg.WatchStreams, cfg.Watchers)
	var conns []*grpc.ClientConn
	for range streams {
		cc, err := dialResourceConn(ctx, cfg, cfg.Endpoints[0])
		if err != nil {
			return err
		}
		r.resConns = append(r.resConns, cc)
		conns = append(conns, cc)
		ws.recs = append(ws.recs, newRecorder())
	}
	wctx, cancel := context.WithCancel(context.Background())
	ws.cancel = cancel
	ready := make(chan error, cfg.Watchers)
	for i := range cfg.Watchers {
		s := i % streams
		stream, err := openResourceWatch(wctx, conns[s], &pbresource.WatchListRequest{Type: benchWatchType, Tenancy: benchTenancy, NamePrefix: r.watchPrefix})
		if err != nil {
			return fmt.Errorf("start a watch: %w", err)
		}
		ws.wg.Add(1)
		go func() {
			defer ws.wg.Done()
			ws.readResource(wctx, stream, ws.recs[s], &r.measureStart, ready)
		}()
	}
	deadline := time.After(cfg.Timeout + time.Duration(cfg.Watchers)*time.Millisecond)
	for range cfg.Watchers {
		select {
		case err := <-ready:
			if err != nil {
				return fmt.Errorf("start a watch: %w", err)
			}
		case <-deadline:
			return fmt.Errorf("watchers not started within %s", cfg.Timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// openResourceWatch opens a WatchList stream on cc that decodes with
// resWatchCodec.
func openResourceWatch(ctx context.Context, cc *grpc.ClientConn, req *pbresource.WatchListRequest) (grpc.ClientStream, error) {
	stream, err := cc.NewStream(ctx, &pbresource.ResourceService_ServiceDesc.Streams[0],
		pbresource.ResourceService_WatchList_FullMethodName, grpc.ForceCodecV2(resWatchCodec{}))
	if err != nil {
		return nil, err
	}
	if err := stream.SendMsg(req); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	return stream, nil
}

// readResource reads one watcher's events until the stream ends: it
// reports on ready at end_of_snapshot (or the failure before it), then
// records the latency of every upsert of a measured write.
func (ws *watchState) readResource(ctx context.Context, stream grpc.ClientStream, rec *recorder, measureStart *atomic.Int64, ready chan<- error) {
	started := false
	var f resEventFrame
	for {
		err := stream.RecvMsg(&f)
		if err != nil {
			if !started {
				if ctx.Err() == nil {
					err = fmt.Errorf("watch stream: %w", err)
				}
				ready <- err
			}
			return
		}
		now := time.Now().UnixNano()
		if f.endOfSnapshot {
			if !started {
				started = true
				ready <- nil
			}
			continue
		}
		sent := f.sent
		if !started || sent == 0 || sent < measureStart.Load() {
			continue
		}
		rec.mu.Lock()
		rec.hist.RecordValue(clampMicros(time.Duration(now - sent)))
		rec.mu.Unlock()
		ws.events.Add(1)
	}
}
