package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/concord-db/concord/auth"
)

// denyAnonymous is a Guard with auth on that knows no user: every request
// is anonymous and refused where a user is needed.
type denyAnonymous struct{}

func (denyAnonymous) Enabled() bool { return true }
func (denyAnonymous) IdentityFromHTTP(*http.Request) (auth.Identity, error) {
	return auth.Identity{}, nil
}
func (denyAnonymous) Authenticate(context.Context, string, string) (string, error) {
	return "", auth.ErrAuthFailed
}
func (denyAnonymous) Changed() <-chan struct{} { return make(chan struct{}) }
func (denyAnonymous) Authorize(_ context.Context, r auth.Request) error {
	if r.User.Name == "" {
		return auth.ErrUserEmpty
	}
	return nil
}

// TestExtensionPublicRoutes: while auth is on, a face's route listed in
// Extension.Public is served without credentials and its other routes
// are refused with 401.
func TestExtensionPublicRoutes(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	s, err := New(Config{Node: newFakeNode(), MaxBodyBytes: 256, Auth: denyAnonymous{}, Extensions: []Extension{{
		Name:   "ui",
		Routes: map[string]http.Handler{"GET /ui/{file...}": ok, "GET /v1/ui-data": ok},
		Public: []string{"GET /ui/{file...}"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	if w := do(t, h, "GET", "/ui/index.html", ""); w.Code != http.StatusOK {
		t.Errorf("public route without credentials: %d %s, want 200", w.Code, w.Body)
	}
	if w := do(t, h, "GET", "/v1/ui-data", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("other route without credentials: %d %s, want 401", w.Code, w.Body)
	}
}
