package etcdapi

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/concord-db/concord/kv"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

type watchService struct{ a *API }

// watchStream is one client's Watch stream: many watchers multiplexed by id.
type watchStream struct {
	a      *API
	srv    pb.Watch_WatchServer
	sendMu sync.Mutex

	mu       sync.Mutex
	nextID   int64
	watchers map[int64]*kv.Watcher
	wg       sync.WaitGroup
}

func (s *watchService) Watch(srv pb.Watch_WatchServer) error {
	ws := &watchStream{a: s.a, srv: srv, watchers: map[int64]*kv.Watcher{}}
	defer ws.closeAll()
	for {
		req, err := srv.Recv()
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
			err = ws.cancel(r.CancelRequest.WatchId)
		case *pb.WatchRequest_ProgressRequest:
			ws.progress()
		}
		if err != nil {
			return err
		}
	}
}

func (ws *watchStream) send(r *pb.WatchResponse) error {
	ws.sendMu.Lock()
	defer ws.sendMu.Unlock()
	return ws.srv.Send(r)
}

func (ws *watchStream) create(cr *pb.WatchCreateRequest) error {
	if len(cr.Key) == 0 {
		return rpctypes.ErrGRPCEmptyKey
	}
	ws.mu.Lock()
	id := cr.WatchId
	if id == 0 {
		for ws.watchers[ws.nextID] != nil {
			ws.nextID++
		}
		id = ws.nextID
		ws.nextID++
	} else if ws.watchers[id] != nil {
		ws.mu.Unlock()
		// etcd answers a duplicate id with a created-and-canceled response.
		return ws.send(&pb.WatchResponse{Header: ws.a.header(nil), WatchId: id, Created: true, Canceled: true,
			CancelReason: "etcdserver: duplicate watch ID"})
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
	// The created response must precede the first event, so send it
	// before the watcher starts delivering.
	if err := ws.send(&pb.WatchResponse{Header: ws.a.header(nil), WatchId: id, Created: true}); err != nil {
		ws.mu.Unlock()
		return err
	}
	w := ws.a.store.Watch(req)
	ws.watchers[id] = w
	ws.mu.Unlock()
	ws.wg.Add(1)
	go ws.forward(id, w, cr.Fragment)
	return nil
}

// forward relays a watcher's responses to the client until it ends.
func (ws *watchStream) forward(id int64, w *kv.Watcher, fragment bool) {
	defer ws.wg.Done()
	for r := range w.C() {
		resp := &pb.WatchResponse{
			Header:          ws.a.header(&pb.ResponseHeader{Revision: r.Revision}),
			WatchId:         id,
			Events:          r.Events,
			Canceled:        r.Canceled,
			CancelReason:    r.CancelReason,
			CompactRevision: r.CompactRevision,
		}
		if err := ws.sendFragmented(resp, fragment); err != nil {
			w.Close()
			return
		}
		if r.Canceled {
			ws.mu.Lock()
			if ws.watchers[id] == w {
				delete(ws.watchers, id)
			}
			ws.mu.Unlock()
		}
	}
}

// sendFragmented splits a response whose events exceed the request size
// limit into fragments, as etcd does for watchers that asked for it.
func (ws *watchStream) sendFragmented(resp *pb.WatchResponse, fragment bool) error {
	limit := ws.a.limits.MaxRequestBytes
	if !fragment || resp.Size() <= limit || len(resp.Events) < 2 {
		return ws.send(resp)
	}
	events := resp.Events
	for len(events) > 0 {
		size, n := 0, 0
		for n < len(events) && (n == 0 || size+events[n].Size() <= limit) {
			size += events[n].Size()
			n++
		}
		part := *resp
		part.Events = events[:n:n]
		events = events[n:]
		part.Fragment = len(events) > 0
		if err := ws.send(&part); err != nil {
			return err
		}
	}
	return nil
}

func (ws *watchStream) cancel(id int64) error {
	ws.mu.Lock()
	w := ws.watchers[id]
	delete(ws.watchers, id)
	ws.mu.Unlock()
	if w == nil {
		return nil // etcd ignores a cancel of an unknown id
	}
	w.Close()
	return ws.send(&pb.WatchResponse{Header: ws.a.header(nil), WatchId: id, Canceled: true})
}

// progress asks every watcher of the stream for a progress notification.
func (ws *watchStream) progress() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, w := range ws.watchers {
		w.RequestProgress()
	}
}

func (ws *watchStream) closeAll() {
	ws.mu.Lock()
	for id, w := range ws.watchers {
		w.Close()
		delete(ws.watchers, id)
	}
	ws.mu.Unlock()
	ws.wg.Wait()
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
