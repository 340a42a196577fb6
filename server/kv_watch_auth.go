package server

import (
	"context"

	"github.com/concord-db/concord/auth"
)

// watchAuth re-checks a REST watch's permission whenever the auth state
// changes, as the etcd API's watch streams do (etcdapi/watch_auth.go): a
// revoked permission, a deleted user or role, or auth enabled under a watch
// opened without credentials ends the watch with "permission denied".
type watchAuth struct {
	g        changeGuard
	id       auth.Identity
	key, end []byte
}

var _ changeGuard = (*auth.Store)(nil)

// changeGuard is a Guard that tells when the auth state changes, as
// *auth.Store does (Changed: a channel closed at the next change).
type changeGuard interface {
	Guard
	Changed() <-chan struct{}
}

// newWatchAuth returns the checker of a watch on [key, end) made by the
// request ctx carries, or nil when the server has no
// auth store.
func (s *Server) newWatchAuth(ctx context.Context, key, end []byte) *watchAuth {
	g, ok := s.cfg.Auth.(changeGuard)
	if !ok { // no auth store, or one that cannot tell changes
		return nil
	}
	// The user was authenticated when the watch opened: only its
	// permissions count from now on, not the age of its token.
	id, _ := auth.IdentityFromContext(ctx)
	id.Revision = 0
	return &watchAuth{g: g, id: id, key: key, end: end}
}

// changed returns a channel closed at the next auth change (nil, which
// never fires, without auth). Take it before checking, so that no change
// falls between the check and the wait.
func (a *watchAuth) changed() <-chan struct{} {
	if a == nil {
		return nil
	}
	return a.g.Changed()
}

// check returns nil if the watch's user may still read its range.
func (a *watchAuth) check(ctx context.Context) error {
	if a == nil {
		return nil
	}
	return a.g.Authorize(ctx, auth.Request{User: a.id, Op: auth.OpRead, Key: a.key, RangeEnd: a.end})
}

// recheck is called when the channel changed gave is closed: it returns
// the channel of the next change if the user may still read the range,
// else nil (the watch must end).
func (a *watchAuth) recheck(ctx context.Context) <-chan struct{} {
	ch := a.changed()
	if a.check(ctx) != nil {
		return nil
	}
	return ch
}
