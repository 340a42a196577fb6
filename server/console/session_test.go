package console

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/concord-db/concord/auth"
	"go.etcd.io/etcd/api/v3/authpb"
)

// fakeAuth has users with roles and roles with permissions.
type fakeAuth struct {
	enabled bool
	roles   map[string][]string
	perms   map[string][]*authpb.Permission
}

func (f *fakeAuth) Enabled() bool                { return f.enabled }
func (f *fakeAuth) IsRoot(id auth.Identity) bool { return id.Name == "root" }
func (f *fakeAuth) UserGet(_ context.Context, who auth.Identity, name string) ([]string, error) {
	if who.Name != name && who.Name != "root" {
		return nil, auth.ErrPermissionDenied
	}
	r, ok := f.roles[name]
	if !ok {
		return nil, auth.ErrUserNotFound
	}
	return r, nil
}
func (f *fakeAuth) RoleGet(_ context.Context, _ auth.Identity, name string) ([]*authpb.Permission, error) {
	p, ok := f.perms[name]
	if !ok {
		return nil, auth.ErrRoleNotFound
	}
	return p, nil
}

func TestSession(t *testing.T) {
	a := &fakeAuth{enabled: true,
		roles: map[string][]string{"root": {"root"}, "reader": {"r", "gone"}, "writer": {"r", "w"}, "none": nil},
		perms: map[string][]*authpb.Permission{
			"r": {{PermType: authpb.READ, Key: []byte("a")}},
			"w": {{PermType: authpb.READWRITE, Key: []byte("b"), RangeEnd: []byte("c")}},
		}}
	h := newConsole(t, Config{Auth: a})
	session := func(user string) (int, Session) {
		r := httptest.NewRequest("GET", "/v1/console/session", nil)
		if user != "" {
			r = r.WithContext(auth.WithIdentity(r.Context(), auth.Identity{Name: user}))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			return w.Code, Session{}
		}
		return w.Code, decode[Session](t, w)
	}
	for _, c := range []struct {
		user           string
		root, canWrite bool
		roles          int
	}{
		{"root", true, true, 1},
		{"reader", false, false, 2},
		{"writer", false, true, 2},
		{"none", false, false, 0}, // roles [], not null
	} {
		code, s := session(c.user)
		if code != 200 || !s.AuthEnabled || s.User != c.user || s.Root != c.root || s.CanWrite != c.canWrite ||
			len(s.Roles) != c.roles || s.Roles == nil || s.Member != "n1" {
			t.Errorf("%s: %d %+v", c.user, code, s)
		}
	}
	if code, _ := session("deleted"); code != 403 {
		t.Errorf("a user deleted since its token: %d, want 403", code)
	}

	a.enabled = false
	if code, s := session(""); code != 200 || s.AuthEnabled || !s.Root || !s.CanWrite || s.User != "" {
		t.Errorf("auth off: %d %+v", code, s)
	}
	if s := decode[Session](t, get(t, newConsole(t, Config{}), "/v1/console/session")); s.AuthEnabled || !s.CanWrite {
		t.Errorf("no auth store: %+v", s)
	}
}
