package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// The watchers are spread over WatchStreams gRPC watch streams to the
// first endpoint, one connection each, as etcd's watch benchmarks spread
// theirs (--streams). Each stream is read by one goroutine that decodes
// only what the measurement needs (watch_decode.go) and records into the
// stream's own recorder: clientv3's watch client would cost three goroutine
// hand-offs and a full decode per watcher and response, and at 10k watchers
// the load generator, not the server, would set the latency.

// watchStreamDesc is etcd's Watch method (a bidirectional stream).
var watchStreamDesc = grpc.StreamDesc{StreamName: "Watch", ServerStreams: true, ClientStreams: true}

type watchState struct {
	clis   []*clientv3.Client
	recs   []*recorder // one per stream
	events atomic.Int64
	n      int
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startWatchers starts the watchers on the first endpoint and waits until
// the server has created every watch.
func (r *runner) startWatchers(ctx context.Context) error {
	cfg := r.cfg
	ws := &watchState{n: cfg.Watchers}
	r.watch = ws
	streams := min(cfg.WatchStreams, cfg.Watchers)
	for range streams {
		cli, err := newClient(ctx, cfg, cfg.Endpoints[0])
		if err != nil {
			return err
		}
		ws.clis = append(ws.clis, cli)
		ws.recs = append(ws.recs, newRecorder())
	}
	wctx, cancel := context.WithCancel(context.Background())
	ws.cancel = cancel
	created := make(chan error, cfg.Watchers)
	for i, cli := range ws.clis {
		n := cfg.Watchers/streams + btoi(i < cfg.Watchers%streams)
		if err := ws.startStream(wctx, r, cli, i, n, created); err != nil {
			return err
		}
	}
	deadline := time.After(cfg.Timeout + time.Duration(cfg.Watchers)*time.Millisecond)
	for range cfg.Watchers {
		select {
		case err := <-created:
			if err != nil {
				return fmt.Errorf("create a watch: %w", err)
			}
		case <-deadline:
			return fmt.Errorf("watchers not created within %s", cfg.Timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// startStream opens stream i with n watchers on the prefix and starts its
// reader, which reports each creation (or failure) on created.
func (ws *watchState) startStream(ctx context.Context, r *runner, cli *clientv3.Client, i, n int, created chan<- error) error {
	stream, err := cli.ActiveConnection().NewStream(ctx, &watchStreamDesc, "/etcdserverpb.Watch/Watch", grpc.ForceCodecV2(watchCodec{}))
	if err != nil {
		return fmt.Errorf("open watch stream: %w", err)
	}
	ws.wg.Add(1)
	go func() {
		defer ws.wg.Done()
		ws.read(ctx, stream, ws.recs[i], &r.measureStart, n, created)
	}()
	prefix := []byte(r.cfg.Prefix + "w/")
	req := &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{
		Key: prefix, RangeEnd: []byte(clientv3.GetPrefixRangeEnd(string(prefix)))}}}
	for range n {
		if err := stream.SendMsg(req); err != nil {
			return fmt.Errorf("create a watch: %w", err)
		}
	}
	return nil
}

// read records the latency of every measured event the stream delivers,
// from the send time the writer put in the value, until the stream ends.
func (ws *watchState) read(ctx context.Context, stream grpc.ClientStream, rec *recorder, measureStart *atomic.Int64, pending int, created chan<- error) {
	var f watchFrame
	for {
		f.reset()
		if err := stream.RecvMsg(&f); err != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("watch stream: %w", err)
			}
			for ; pending > 0; pending-- {
				created <- err
			}
			return
		}
		now := time.Now().UnixNano()
		if f.created {
			// A watcher the server cancels later just stops getting events:
			// the report shows fewer events than expected.
			pending--
			if f.canceled {
				created <- errors.New(f.cancelReason)
				continue
			}
			created <- nil
		}
		from := measureStart.Load()
		n := 0
		rec.mu.Lock()
		for _, sent := range f.sent {
			if sent >= from {
				rec.hist.RecordValue(clampMicros(time.Duration(now - sent)))
				n++
			}
		}
		rec.mu.Unlock()
		ws.events.Add(int64(n))
	}
}

// finish waits for the events of the measured puts (until they have all
// arrived, or none arrived for 5 seconds) and summarizes them.
func (ws *watchState) finish(ctx context.Context, puts int64) *WatchStats {
	want := puts * int64(ws.n)
	last, lastChange := ws.events.Load(), time.Now()
	for ctx.Err() == nil {
		got := ws.events.Load()
		if got >= want || time.Since(lastChange) > 5*time.Second {
			break
		}
		if got != last {
			last, lastChange = got, time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t := merge(ws.recs)
	return &WatchStats{Watchers: ws.n, Events: t.hist.TotalCount(), Expected: want, Latency: summarize(t.hist)}
}

func (ws *watchState) stop() {
	ws.cancel()
	for _, c := range ws.clis {
		c.Close()
	}
	ws.wg.Wait()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
