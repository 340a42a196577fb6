package agent

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/server/resourceapi"
)

// authWatch is a resource list watch that ends with the permission error
// once its user may no longer read what it watches (a permission revoked,
// a role or the user deleted, auth enabled under a watch opened without
// credentials), as etcd's watches do. It serves REST and gRPC alike: both
// read the watch through resourceapi.Watcher.
//
// Two paths stop it. Before events are handed out, a changed auth revision
// makes it check again: the state machines apply in log order, so an event
// committed after a revocation is never delivered (the events of its batch
// from before the revocation are dropped with it: the watch is ending
// anyway). While it waits for events, a goroutine woken by the auth
// store's Changed ends the inner watch, so an idle watch stops too.
type authWatch struct {
	next     resourceapi.Watcher
	b        resourceAuthBackend
	id       auth.Identity
	key, end []byte

	checked atomic.Uint64 // auth revision last checked
	denied  atomic.Pointer[error]
	stop    context.CancelFunc
	once    sync.Once
	// ctxDone is the Done channel of the watch's context, wctx the inner
	// watch's (its child): a read given the watch's context passes wctx
	// to the inner watch, whose end wctx ends anyway, so that the inner
	// watch waits on fewer channels (resource.Watch.Next).
	ctxDone <-chan struct{}
	wctx    context.Context
}

// newAuthWatch opens the inner watch with open and guards it. ctx is the
// watch's context; key and end its permission range.
func (b resourceAuthBackend) newAuthWatch(ctx context.Context, key, end []byte, open func(context.Context) (resourceapi.Watcher, error)) (resourceapi.Watcher, error) {
	id, _ := auth.IdentityFromContext(ctx)
	// The user was authenticated when the watch opened: from now on only
	// its permissions count, not the age of its token.
	id.Revision = 0
	wctx, stop := context.WithCancel(ctx)
	w := &authWatch{b: b, id: id, key: key, end: end, stop: stop, ctxDone: ctx.Done(), wctx: wctx}
	changed := b.auth.Changed()
	w.checked.Store(b.auth.Revision())
	if err := b.check(ctx, auth.OpRead, key, end); err != nil { // after taking changed: no change is missed
		stop()
		return nil, err
	}
	next, err := open(wctx)
	if err != nil {
		stop()
		return nil, err
	}
	w.next = next
	go w.recheck(wctx, changed)
	return w, nil
}

// check authorizes the watch's range now.
func (w *authWatch) check(ctx context.Context) error {
	return w.b.checkAs(ctx, w.id, auth.OpRead, w.key, w.end)
}

// deny ends the watch with err.
func (w *authWatch) deny(err error) {
	w.denied.CompareAndSwap(nil, &err)
	w.stop()
}

// recheck checks again at every auth change until ctx ends.
func (w *authWatch) recheck(ctx context.Context, changed <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		changed = w.b.auth.Changed()
		if err := w.check(ctx); err != nil && ctx.Err() == nil {
			w.deny(err)
			return
		}
	}
}

// verdict is the error to return instead of what the inner watch gave:
// the permission error once denied (checking again first if the auth
// revision moved since the last check), else nil.
func (w *authWatch) verdict(ctx context.Context) error {
	if rev := w.b.auth.Revision(); rev != w.checked.Load() {
		if err := w.check(ctx); err != nil {
			w.deny(err)
		} else {
			w.checked.Store(rev)
		}
	}
	if p := w.denied.Load(); p != nil {
		return *p
	}
	return nil
}

// Next returns the inner watch's next event, or the permission error.
func (w *authWatch) Next(ctx context.Context) (resource.Event, error) {
	ev, err := w.next.Next(ctx)
	if derr := w.verdict(ctx); derr != nil {
		return resource.Event{}, derr
	}
	return ev, err
}

// batchNexter is the inner watch's batch read, when it has one.
type batchNexter interface {
	NextBatch(ctx context.Context, buf []resource.Event) ([]resource.Event, error)
}

// NextBatch is Next for a batch (resourceapi reads batches when it can).
func (w *authWatch) NextBatch(ctx context.Context, buf []resource.Event) ([]resource.Event, error) {
	var evs []resource.Event
	var err error
	inner := ctx
	if d := ctx.Done(); d != nil && d == w.ctxDone {
		inner = w.wctx
	}
	if bn, ok := w.next.(batchNexter); ok {
		evs, err = bn.NextBatch(inner, buf)
	} else {
		var ev resource.Event
		if ev, err = w.next.Next(ctx); err == nil {
			evs = append(buf[:0], ev)
		}
	}
	if derr := w.verdict(ctx); derr != nil {
		clear(evs)
		return buf[:0], derr
	}
	return evs, err
}

// Close ends the watch and its checker.
func (w *authWatch) Close() {
	w.once.Do(func() {
		w.stop()
		if w.next != nil {
			w.next.Close()
		}
	})
}
