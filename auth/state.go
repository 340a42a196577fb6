package auth

import (
	"bytes"
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/authpb"
)

// Names of the superuser and its role (etcd's).
const (
	RootUser = "root"
	RootRole = "root"
)

// rootPerm is what RoleGet shows for the root role: everything.
var rootPerm = authpb.Permission{PermType: authpb.READWRITE, Key: []byte{}, RangeEnd: []byte{0}}

// state is the replicated auth state: whether auth is on, the auth
// revision (bumped by every change, so tokens issued before a change are
// recognised as old), and the users and roles in etcd's protobuf types.
// A user's Roles and a role's KeyPermission stay sorted (by name, by key).
type state struct {
	enabled  bool
	revision uint64
	users    map[string]*authpb.User
	roles    map[string]*authpb.Role
}

func newState() state {
	// etcd starts at revision 1 so that 0 means "no user given".
	return state{revision: 1, users: map[string]*authpb.User{}, roles: map[string]*authpb.Role{}}
}

// clone returns a deep copy, for snapshots.
func (st *state) clone() state {
	c := state{enabled: st.enabled, revision: st.revision,
		users: make(map[string]*authpb.User, len(st.users)), roles: make(map[string]*authpb.Role, len(st.roles))}
	for k, u := range st.users {
		c.users[k] = cloneUser(u)
	}
	for k, r := range st.roles {
		c.roles[k] = cloneRole(r)
	}
	return c
}

func cloneUser(u *authpb.User) *authpb.User {
	c := &authpb.User{Name: bytes.Clone(u.Name), Password: bytes.Clone(u.Password), Roles: slices.Clone(u.Roles)}
	if u.Options != nil {
		c.Options = &authpb.UserAddOptions{NoPassword: u.Options.NoPassword}
	}
	return c
}

func cloneRole(r *authpb.Role) *authpb.Role {
	c := &authpb.Role{Name: bytes.Clone(r.Name)}
	for _, p := range r.KeyPermission {
		c.KeyPermission = append(c.KeyPermission, &authpb.Permission{PermType: p.PermType, Key: bytes.Clone(p.Key), RangeEnd: bytes.Clone(p.RangeEnd)})
	}
	return c
}

// hasRootRole reports whether u has the root role.
func hasRootRole(u *authpb.User) bool {
	_, ok := slices.BinarySearch(u.Roles, RootRole)
	return ok
}

// isNoPassword reports whether u authenticates only by certificate.
func isNoPassword(u *authpb.User) bool { return u.Options != nil && u.Options.NoPassword }

// sortedNames returns the keys of m in order.
func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// removeString returns s without v and whether v was there.
func removeString(s []string, v string) ([]string, bool) {
	i := slices.Index(s, v)
	if i < 0 {
		return s, false
	}
	return slices.Delete(slices.Clone(s), i, i+1), true
}

// comparePerm orders permissions by key, then range end.
func comparePerm(a, b *authpb.Permission) int {
	if c := bytes.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return bytes.Compare(a.RangeEnd, b.RangeEnd)
}

// validName reports whether a user or role name is acceptable: not empty
// (checked separately, with etcd's error) and printable.
func validName(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
