package etcdapi

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/server/connlimit"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

type watchService struct{ a *API }

// watchStream is one client's Watch stream: many watchers multiplexed by
// id. Its watchers deliver into one kv.WatchQueue, and one goroutine, the
// sender (watch_send.go), is the only one that calls Send: replies to the
// client's requests are queued too (WatchQueue.Push), so every message
// keeps its place. The receiving side never waits for the client to read.
type watchStream struct {
	a   *API
	srv pb.Watch_WatchServer
	q   *kv.WatchQueue
	// conn counts the watchers of every stream of the client's connection
	// (Limits.MaxWatchesPerConnection); nil without connlimit's handler.
	conn *connlimit.Conn

	mu       sync.Mutex
	closed   bool // no more watchers: the stream is ending
	nextID   int64
	watchers map[int64]*streamWatcher
}

// streamWatcher is one watcher of a stream; it is the kv.Watcher's tag.
type streamWatcher struct {
	id       int64
	key, end []byte // the watched range, checked again when auth changes
	fragment bool
	w        *kv.Watcher
	slot     int // the sender's: 1 + its group in the batch being sent, or 0
}

// endOfStream, queued last when the client closed its side, tells the
// sender to stop after sending everything before it.
type endOfStream struct{}

func (s *watchService) Watch(srv pb.Watch_WatchServer) error {
	ws := &watchStream{a: s.a, srv: srv, q: s.a.store.NewWatchQueue(), conn: connlimit.FromContext(srv.Context()),
		watchers: map[int64]*streamWatcher{}}
	sent := make(chan error, 1)
	go func() { sent <- newWatchSender(ws).run() }()
	received := make(chan error, 1)
	go func() { received <- ws.recvLoop() }()
	go ws.recheckOnAuthChange(srv.Context())
	select {
	case err := <-received:
		ws.closeAll()
		ws.q.Push(endOfStream{})
		if serr := <-sent; err == nil {
			err = serr
		}
		return err
	case err := <-sent:
		// The receiver ends when the stream's context does, once we return.
		ws.closeAll()
		return err
	}
}

// recvLoop handles the client's requests until it closes its side (nil) or
// the stream fails.
func (ws *watchStream) recvLoop() error {
	for {
		req, err := ws.srv.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch r := req.RequestUnion.(type) {
		case *pb.WatchRequest_CreateRequest:
			err = ws.create(r.CreateRequest)
		case *pb.WatchRequest_CancelRequest:
			ws.cancel(r.CancelRequest.WatchId)
		case *pb.WatchRequest_ProgressRequest:
			ws.progress()
		}
		if err != nil {
			return err
		}
	}
}

func (ws *watchStream) create(cr *pb.WatchCreateRequest) error {
	if len(cr.Key) == 0 {
		return rpctypes.ErrGRPCEmptyKey
	}
	if !ws.permitted(cr.Key, cr.RangeEnd) {
		ws.q.Push(deniedWatch(ws.a, -1))
		return nil
	}
	if cr.StartRevision == 0 {
		// "From now" includes every write this member acknowledged.
		if err := ws.a.readFence(ws.srv.Context()); err != nil {
			return toGRPC(err)
		}
	}
	req := kv.WatchRequest{Key: cr.Key, RangeEnd: cr.RangeEnd, StartRev: cr.StartRevision, PrevKV: cr.PrevKv, ProgressNotify: cr.ProgressNotify}
	for _, f := range cr.Filters {
		switch f {
		case pb.WatchCreateRequest_NOPUT:
			req.NoPut = true
		case pb.WatchCreateRequest_NODELETE:
			req.NoDelete = true
		}
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		return nil
	}
	id := cr.WatchId
	if id == 0 {
		for ws.watchers[ws.nextID] != nil {
			ws.nextID++
		}
		id = ws.nextID
		ws.nextID++
	} else if ws.watchers[id] != nil {
		// etcd answers a duplicate id with a created-and-canceled response.
		ws.q.Push(&pb.WatchResponse{Header: ws.a.header(nil), WatchId: id, Created: true, Canceled: true,
			CancelReason: "etcdserver: duplicate watch ID"})
		return nil
	}
	if !ws.acquireWatch() {
		ws.q.Push(&pb.WatchResponse{Header: ws.a.header(nil), WatchId: id, Created: true, Canceled: true,
			CancelReason: tooManyWatchesReason(ws.a.limits.MaxWatchesPerConnection)})
		return nil
	}
	// The queue gets the watcher's created item before any of its events.
	sw := &streamWatcher{id: id, fragment: cr.Fragment, key: cr.Key, end: cr.RangeEnd}
	sw.w = ws.q.Watch(req, sw)
	ws.watchers[id] = sw
	return nil
}

// cancel stops a watcher at the client's request. Responses of it queued
// before are still sent, then the confirmation: nothing of it follows.
func (ws *watchStream) cancel(id int64) {
	ws.mu.Lock()
	sw := ws.watchers[id]
	ws.dropLocked(id)
	ws.mu.Unlock()
	if sw == nil {
		return // etcd ignores a cancel of an unknown id
	}
	sw.w.Close()
	ws.q.Push(&pb.WatchResponse{Header: ws.a.header(nil), WatchId: id, Canceled: true})
}

// forget drops sw, which the store cancelled, unless its id was reused.
func (ws *watchStream) forget(sw *streamWatcher) {
	ws.mu.Lock()
	if ws.watchers[sw.id] == sw {
		ws.dropLocked(sw.id)
	}
	ws.mu.Unlock()
}

// progress asks every watcher of the stream for a progress notification.
func (ws *watchStream) progress() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, sw := range ws.watchers {
		sw.w.RequestProgress()
	}
}

// closeAll closes every watcher and refuses new ones.
func (ws *watchStream) closeAll() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.closed = true
	for id, sw := range ws.watchers {
		sw.w.Close()
		ws.dropLocked(id)
	}
}

// DefaultProgressNotifyInterval is how often watchers that asked for
// progress notifications get one (etcd's default).
const DefaultProgressNotifyInterval = 10 * time.Minute

func (a *API) runProgressNotify(ctx context.Context) {
	t := time.NewTicker(a.progressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.store.ProgressNotify()
		}
	}
}
