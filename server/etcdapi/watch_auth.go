package etcdapi

import (
	"context"

	"github.com/concord-db/concord/auth"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// permitted reports whether the stream's user may read [key, end): etcd
// answers a create it may not with a created-and-canceled response.
func (ws *watchStream) permitted(key, end []byte) bool {
	ctx := ws.srv.Context()
	// The user was authenticated when the stream opened: only its
	// permissions count now, not the age of its token.
	id := identityFrom(ctx)
	id.Revision = 0
	return ws.a.authorize(ctx, id, auth.OpRead, key, end) == nil
}

// deniedWatch is etcd's answer to a watch the user may not read.
func deniedWatch(a *API, id int64) *pb.WatchResponse {
	return &pb.WatchResponse{Header: a.header(nil), WatchId: id, Created: id < 0, Canceled: true,
		CancelReason: rpctypes.ErrGRPCPermissionDenied.Error()}
}

// recheckOnAuthChange cancels, whenever the auth state changes, the
// stream's watchers on ranges its user may no longer read, until ctx ends.
func (ws *watchStream) recheckOnAuthChange(ctx context.Context) {
	if ws.a.auth == nil {
		return
	}
	changed := ws.a.auth.Changed()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		changed = ws.a.auth.Changed() // before checking: no change is missed
		ws.mu.Lock()
		var denied []*streamWatcher
		for id, sw := range ws.watchers {
			if !ws.permitted(sw.key, sw.end) {
				ws.dropLocked(id)
				denied = append(denied, sw)
			}
		}
		ws.mu.Unlock()
		for _, sw := range denied {
			sw.w.Close()
			ws.q.Push(deniedWatch(ws.a, sw.id))
		}
	}
}
