package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/concord-db/concord/kv"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// watchProgressEvery is how often an idle watch stream gets a progress
// line, which also tells proxies and clients that the stream is alive.
const watchProgressEvery = 30 * time.Second

// watchDeniedReason is the cancel reason of a watch whose user may no
// longer read its range: etcd's text, as the gRPC watch gives it.
const watchDeniedReason = "etcdserver: permission denied"

// kvWatch streams events as newline-delimited JSON (WatchEvent) until the
// client goes away or the watch is cancelled.
func (s *Server) kvWatch(w http.ResponseWriter, r *http.Request) {
	store, ok := s.kvBackend(w, r)
	if !ok {
		return
	}
	q := parseQuery(r, "prefix", "range_end", "from_key", "start_revision", "prev_kv", "no_put", "no_delete", "encoding")
	key, end := q.keyRange(r.PathValue("key"))
	req := kv.WatchRequest{Key: key, RangeEnd: end, StartRev: q.int("start_revision"), PrevKV: q.flag("prev_kv"),
		NoPut: q.flag("no_put"), NoDelete: q.flag("no_delete")}
	forceBase64 := q.encoding()
	if q.err != nil {
		s.fail(w, r, q.err)
		return
	}
	rc := http.NewResponseController(w) // reaches Flush through middleware wrappers
	wa := s.newWatchAuth(r.Context(), key, end)
	authChanged := wa.changed()
	if err := wa.check(r.Context()); err != nil { // a change since the guard's check
		s.denied(w, r, err)
		return
	}
	watcher := store.Watch(req)
	defer watcher.Close()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(ev WatchEvent) bool {
		if err := enc.Encode(ev); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(WatchEvent{Created: true, Revision: req.StartRev}) {
		return
	}
	tick := time.NewTicker(watchProgressEvery)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			if errors.Is(context.Cause(r.Context()), ErrServerStopping) {
				// As etcd ends a watch at shutdown: the client
				// watches again on another member.
				send(WatchEvent{Canceled: true, Reason: "etcdserver: server stopped"})
			}
			return
		case <-tick.C:
			watcher.RequestProgress()
		case <-authChanged:
			if authChanged = wa.recheck(r.Context()); authChanged == nil {
				send(WatchEvent{Canceled: true, Reason: watchDeniedReason})
				return
			}
		case resp, open := <-watcher.C():
			if !open {
				return
			}
			// The state machines apply in log order: an auth change
			// before this event's entry has already been applied.
			select {
			case <-authChanged:
				if authChanged = wa.recheck(r.Context()); authChanged == nil {
					send(WatchEvent{Canceled: true, Reason: watchDeniedReason})
					return
				}
			default:
			}
			if !sendWatchResponse(send, resp, forceBase64) || resp.Canceled {
				return
			}
		}
	}
}

func sendWatchResponse(send func(WatchEvent) bool, resp *kv.WatchResponse, forceBase64 bool) bool {
	if resp.Canceled {
		return send(WatchEvent{Canceled: true, Reason: resp.CancelReason, CompactRevision: resp.CompactRevision, Revision: resp.Revision})
	}
	if len(resp.Events) == 0 {
		return send(WatchEvent{Progress: true, Revision: resp.Revision})
	}
	for _, ev := range resp.Events {
		out := WatchEvent{Type: "PUT", KV: optKeyValue(ev.Kv, forceBase64), PrevKV: optKeyValue(ev.PrevKv, forceBase64), Revision: ev.Kv.ModRevision}
		if ev.Type == mvccpb.DELETE {
			out.Type = "DELETE"
		}
		if !send(out) {
			return false
		}
	}
	return true
}
