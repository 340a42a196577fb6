package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Watchers share watchStreams connections to the first endpoint (one
// gRPC watch stream each), as etcd's watch-latency benchmark spreads its
// watchers over streams; and record into watchShards recorders.
const (
	watchStreams = 10
	watchShards  = 16
)

type watchState struct {
	clis   []*clientv3.Client
	recs   []*recorder
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
	for range min(watchStreams, cfg.Watchers) {
		cli, err := newClient(ctx, cfg.Endpoints[0], cfg.DialTimeout)
		if err != nil {
			return err
		}
		ws.clis = append(ws.clis, cli)
	}
	for range watchShards {
		ws.recs = append(ws.recs, newRecorder())
	}
	wctx, cancel := context.WithCancel(context.Background())
	ws.cancel = cancel
	prefix := cfg.Prefix + "w/"
	created := make(chan error, cfg.Watchers)
	for i := range cfg.Watchers {
		ws.wg.Add(1)
		go func() {
			defer ws.wg.Done()
			rec := ws.recs[i%watchShards]
			wch := ws.clis[i%len(ws.clis)].Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			first := true
			for resp := range wch {
				if first {
					first = false
					created <- resp.Err()
				}
				if resp.Err() != nil {
					return
				}
				now := time.Now().UnixNano()
				from := r.measureStart.Load()
				for _, ev := range resp.Events {
					if len(ev.Kv.Value) < 8 {
						continue
					}
					sent := int64(binary.BigEndian.Uint64(ev.Kv.Value))
					if sent < from {
						continue
					}
					rec.record(time.Duration(now-sent), nil)
					ws.events.Add(1)
				}
			}
			if first {
				created <- fmt.Errorf("watch closed before it was created")
			}
		}()
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
