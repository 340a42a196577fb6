package linearizability

// The resource watchers: WatchList streams on the workload's type, each on
// a random member, that resume by version (x-concord-from-version) on
// another random member whenever their stream breaks (a killed, paused or
// partitioned member, a leader change) and, to exercise resumes on every
// run, every 1-3 s of their own accord. Each checks as it goes that the
// events after its snapshot come in strictly increasing version order
// (no duplicate, nothing out of order) and that an upsert's resource
// carries its event's version; the end of the run (checkResource) checks
// that each saw every acknowledged write and that each one's state agrees
// with a strong List.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// eventVersionField is the field concord puts each event's store version
// in (resourceapi.EventVersionField; not in Consul's WatchEvent).
const eventVersionField protowire.Number = 1001

// eventVersion is the store version concord put on ev, and false if none.
func eventVersion(ev *pbresource.WatchEvent) (uint64, bool) {
	b := ev.ProtoReflect().GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == eventVersionField && typ == protowire.VarintType {
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

// snapRevKey holds, in a snapshot being read, the version its upserts
// carry (not a valid resource name, so no resource has it).
const snapRevKey = "\x00rev"

// resWatchers are a run's watchers.
type resWatchers struct {
	ws     []*resWatcher
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// resWatcher is one watcher's view, across reconnections.
type resWatcher struct {
	id        int
	endpoints func() []string
	rng       *rand.Rand

	mu      sync.Mutex
	started bool              // its snapshot ended (and it resumes, not starts again)
	snaps   int               // snapshots it got to the end of
	from    uint64            // the revision of its snapshot: it must see every change after it
	last    uint64            // the last version it saw
	state   map[string]string // name -> resource version
	seen    map[uint64]string // version -> name of every change after from
	resumes int               // reconnections that resumed by version
	resets  int               // fresh snapshots after the first (history compacted)
	bad     []string
	lastErr error
	kick    context.CancelFunc // ends the current stream
}

func (w *resWatcher) note(format string, args ...any) {
	w.mu.Lock()
	w.bad = append(w.bad, fmt.Sprintf("watcher %d: ", w.id)+fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// startResourceWatchers starts n watchers; they run until stop.
func startResourceWatchers(n int, seed int64, endpoints func() []string) *resWatchers {
	ctx, cancel := context.WithCancel(context.Background())
	rw := &resWatchers{cancel: cancel}
	for i := range n {
		w := &resWatcher{id: i, endpoints: endpoints, rng: rand.New(rand.NewSource(seed*7919 + int64(i))),
			state: map[string]string{}, seen: map[uint64]string{}}
		rw.ws = append(rw.ws, w)
		rw.wg.Add(1)
		go func() { defer rw.wg.Done(); w.loop(ctx) }()
	}
	return rw
}

func (rw *resWatchers) stop() {
	rw.cancel()
	rw.wg.Wait()
}

// loop keeps one watch open, on a random member each time, until ctx ends.
func (w *resWatcher) loop(ctx context.Context) {
	var conns resConns
	defer conns.close()
	for ctx.Err() == nil {
		eps := w.endpoints()
		ep := eps[w.rng.Intn(len(eps))]
		err := w.watchOnce(ctx, &conns, ep)
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		w.lastErr = fmt.Errorf("%s: %w", ep, err)
		w.mu.Unlock()
		if grpcstatus.Code(err) == codes.OutOfRange {
			// The history no longer reaches back to where this watcher
			// was: it must start again from a snapshot and has then missed
			// changes. With the default history (10,000 events) a run of
			// this suite should never get here.
			w.note("resume from version %d on %s: %v; starting again from a snapshot", w.last, ep, err)
			w.mu.Lock()
			w.started, w.last, w.state, w.resets = false, 0, map[string]string{}, w.resets+1
			w.mu.Unlock()
		}
		pause(ctx, 100*time.Millisecond)
	}
}

// watchOnce reads one WatchList stream until it fails.
func (w *resWatcher) watchOnce(ctx context.Context, conns *resConns, ep string) error {
	c, err := conns.client(ep)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Hop: end this stream after 1-3 s and resume on another random
	// member, so that every run resumes watches across members many
	// times, not only when a fault happens to hit a watcher's member.
	hop := time.AfterFunc(time.Second+time.Duration(w.rng.Int63n(int64(2*time.Second))), cancel)
	defer hop.Stop()
	from, resume := w.begin(cancel)
	if resume {
		sctx = metadata.AppendToOutgoingContext(sctx, fromVersionKey, strconv.FormatUint(from, 10))
	}
	stream, err := c.WatchList(sctx, &pbresource.WatchListRequest{Type: &pbresource.Type{Group: linResType.Group, Kind: linResType.Kind},
		Tenancy: linResTenancy})
	if err != nil {
		return err
	}
	snapshot := map[string]string{} // a fresh watch's snapshot, until end_of_snapshot
	for {
		ev, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("stream ended")
			}
			return err
		}
		if err := w.event(ev, snapshot); err != nil {
			return err
		}
	}
}

// begin prepares the watcher for a new stream that cancel ends: it
// resumes (from-version from) once the watcher has a snapshot, and
// otherwise starts with one. A watcher whose snapshot was of the empty
// store (version 0) and that has seen no event since cannot resume: the
// API reads from-version 0 as "start with a snapshot", so it starts again
// from a fresh one, which becomes its start (from). Having seen no change,
// it misses none by that.
func (w *resWatcher) begin(cancel context.CancelFunc) (from uint64, resume bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.kick = cancel
	if w.started && w.last == 0 {
		w.started = false
	}
	if !w.started {
		return 0, false
	}
	from = w.last
	if os.Getenv("CONCORD_RESOURCE_RESUME_GAP") != "" {
		// Deliberately broken: resume one version late, as a server
		// that dropped the first event after a resume would. The
		// checks must then report missed writes.
		from++
	}
	w.resumes++
	return from, true
}

// event applies one event to the watcher's view and checks its order.
func (w *resWatcher) event(ev *pbresource.WatchEvent, snapshot map[string]string) error {
	v, ok := eventVersion(ev)
	if !ok {
		return errors.New("an event without a version")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		switch {
		case ev.GetEndOfSnapshot() != nil:
			w.started, w.from, w.last, w.state = true, v, v, snapshot
			w.snaps++
			delete(snapshot, snapRevKey)
		case ev.GetUpsert() != nil:
			res := ev.GetUpsert().GetResource()
			snapshot[res.GetId().GetName()] = res.GetVersion()
			if v != 0 && strconv.FormatUint(v, 10) != snapshot[snapRevKey] && snapshot[snapRevKey] != "" {
				w.bad = append(w.bad, fmt.Sprintf("watcher %d: snapshot upserts at versions %s and %d", w.id, snapshot[snapRevKey], v))
			}
			snapshot[snapRevKey] = strconv.FormatUint(v, 10)
		default:
			w.bad = append(w.bad, fmt.Sprintf("watcher %d: a delete in the snapshot", w.id))
		}
		return nil
	}
	if ev.GetEndOfSnapshot() != nil {
		return nil // a resumed watch has no snapshot; tolerate the marker
	}
	var res *pbresource.Resource
	if up := ev.GetUpsert(); up != nil {
		res = up.GetResource()
		if res.GetVersion() != strconv.FormatUint(v, 10) {
			w.bad = append(w.bad, fmt.Sprintf("watcher %d: upsert of %s at event version %d carries resource version %s",
				w.id, res.GetId().GetName(), v, res.GetVersion()))
		}
	} else {
		res = ev.GetDelete().GetResource()
	}
	name := res.GetId().GetName()
	if v <= w.last {
		w.bad = append(w.bad, fmt.Sprintf("watcher %d: event of %s at version %d after version %d (duplicate or out of order)",
			w.id, name, v, w.last))
		return nil
	}
	w.last = v
	w.seen[v] = name
	if ev.GetUpsert() != nil {
		w.state[name] = res.GetVersion()
	} else {
		delete(w.state, name)
	}
	return nil
}

// at is the last version the watcher saw.
func (w *resWatcher) at() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// reconnect ends the watcher's current stream; it resumes on a random
// member.
func (w *resWatcher) reconnect() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.kick != nil {
		w.kick()
	}
}
