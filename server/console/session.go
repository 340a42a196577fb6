package console

import (
	"net/http"

	"github.com/concord-db/concord/auth"
	"go.etcd.io/etcd/api/v3/authpb"
)

// Session is the body of GET /v1/console/session: who the caller is and
// what the page should offer them. The page only hides what the user may
// not do; every request it makes is checked by the API as any other.
type Session struct {
	// Member is the id of the member serving the console.
	Member string `json:"member"`
	// AuthEnabled: requests need credentials (the page asks for them and
	// uses a token from POST /v1/auth/authenticate).
	AuthEnabled bool     `json:"auth_enabled"`
	User        string   `json:"user,omitempty"`
	Roles       []string `json:"roles"`
	// Root may do everything, snapshot download included.
	Root bool `json:"root"`
	// CanWrite: auth is off, or the user is root or has a role with a
	// write permission on some key (the API decides which).
	CanWrite bool `json:"can_write"`
}

func (c *Console) session(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	s := Session{Member: c.cfg.Node.Status().ID, Roles: []string{}}
	a := c.cfg.Auth
	if a == nil || !a.Enabled() {
		s.Root, s.CanWrite = true, true
		writeJSON(w, http.StatusOK, s)
		return
	}
	// The client port's guard let the request in: it carries a user.
	id, _ := auth.IdentityFromContext(r.Context())
	s.AuthEnabled, s.User, s.Root = true, id.Name, a.IsRoot(id)
	s.CanWrite = s.Root
	if id.Name != "" {
		roles, err := a.UserGet(r.Context(), id, id.Name)
		if err != nil {
			status, code := errorStatus(err)
			writeError(w, status, code, "reading the user's roles: "+err.Error())
			return
		}
		if roles != nil {
			s.Roles = roles
		}
		for _, role := range roles {
			perms, err := a.RoleGet(r.Context(), id, role)
			if err != nil {
				continue // deleted since UserGet: no permission from it
			}
			for _, p := range perms {
				s.CanWrite = s.CanWrite || p.PermType == authpb.WRITE || p.PermType == authpb.READWRITE
			}
		}
	}
	writeJSON(w, http.StatusOK, s)
}
