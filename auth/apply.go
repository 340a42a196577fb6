package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Apply applies one auth command (node.StateMachine). It is deterministic:
// password hashes arrive computed, token strings are made of the proposer's
// random prefix and the entry's index, and a token's issue time is the
// proposer's. The only side effect beyond the state is the simple-token
// table, which every member keeps for the tokens it learns from the log.
func (s *Store) Apply(index uint64, cmd []byte) []byte {
	c, err := DecodeCommand(cmd)
	if err != nil {
		return encodeResult(ErrBadCommand, "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	token, err := s.apply(index, c)
	if err == errNoChange {
		err = nil
	} else if err == nil && c.op != opAuthenticate {
		// etcd bumps the revision on every change but enabling.
		if c.op != opAuthEnable {
			s.st.revision++
		}
		s.notifyLocked()
	}
	s.applied = index
	return encodeResult(err, token)
}

// needsAdmin reports whether o may only be asked by a root user once auth
// is enabled (etcd's needAdminPermission).
func needsAdmin(o op) bool { return o != opAuthenticate }

// errNoChange is apply's answer for a request that succeeds without
// changing anything (a duplicate grant, disabling a disabled store): the
// revision stays.
var errNoChange = errors.New("auth: no change")

// apply changes s.st for c, or returns why not and changes nothing. The
// caller bumps the revision after a successful change.
func (s *Store) apply(index uint64, c Command) (string, error) {
	st := &s.st
	if st.enabled && needsAdmin(c.op) {
		if err := st.adminPermitted(c.User); err != nil {
			return "", err
		}
	}
	switch r := c.Body.(type) {
	case *pb.AuthEnableRequest:
		return "", s.applyEnable()
	case *pb.AuthDisableRequest:
		if !st.enabled {
			return "", errNoChange
		}
		st.enabled = false
		s.tokens.disable()
		return "", nil
	case *pb.AuthUserAddRequest:
		return "", st.userAdd(r)
	case *pb.AuthUserDeleteRequest:
		if err := st.userDelete(r.Name); err != nil {
			return "", err
		}
		s.tokens.invalidateUser(r.Name)
		return "", nil
	case *pb.AuthUserChangePasswordRequest:
		if err := st.userChangePassword(r); err != nil {
			return "", err
		}
		s.tokens.invalidateUser(r.Name)
		return "", nil
	case *pb.AuthUserGrantRoleRequest:
		return "", st.userGrantRole(r.User, r.Role)
	case *pb.AuthUserRevokeRoleRequest:
		return "", st.userRevokeRole(r.Name, r.Role)
	case *pb.AuthRoleAddRequest:
		return "", st.roleAdd(r.Name)
	case *pb.AuthRoleDeleteRequest:
		return "", st.roleDelete(r.Role)
	case *pb.AuthRoleGrantPermissionRequest:
		return "", st.roleGrantPermission(r.Name, r.Perm)
	case *pb.AuthRoleRevokePermissionRequest:
		return "", st.roleRevokePermission(r)
	case *pb.InternalAuthenticateRequest:
		return s.applyAuthenticate(index, c, r)
	}
	return "", ErrBadCommand
}

func (s *Store) applyEnable() error {
	st := &s.st
	if st.enabled {
		return errNoChange
	}
	u := st.users[RootUser]
	if u == nil {
		return ErrRootUserNotExist
	}
	if !hasRootRole(u) {
		return ErrRootRoleNotExist
	}
	st.enabled = true
	return nil
}

// applyAuthenticate records a simple token for the user, or fails if the
// auth state changed since the proposer checked the password (it then
// checks again).
func (s *Store) applyAuthenticate(index uint64, c Command, r *pb.InternalAuthenticateRequest) (string, error) {
	st := &s.st
	if !st.enabled {
		return "", ErrAuthNotEnabled
	}
	u := st.users[r.Name]
	if u == nil || isNoPassword(u) {
		return "", ErrAuthFailed
	}
	if c.Revision != st.revision {
		return "", ErrAuthOldRevision
	}
	if r.SimpleToken == "" {
		return "", ErrBadCommand
	}
	token := fmt.Sprintf("%s.%d", r.SimpleToken, index)
	s.tokens.assign(token, r.Name, time.Unix(0, c.IssuedUnixNano))
	return token, nil
}

// adminPermitted is etcd's IsAdminPermitted on an enabled store.
func (st *state) adminPermitted(user string) error {
	if user == "" {
		return ErrUserEmpty
	}
	u := st.users[user]
	if u == nil {
		return ErrUserNotFound
	}
	if !hasRootRole(u) {
		return ErrPermissionDenied
	}
	return nil
}

func (st *state) userAdd(r *pb.AuthUserAddRequest) error {
	if r.Name == "" {
		return ErrUserEmpty
	}
	if !validName(r.Name) {
		return ErrBadCommand
	}
	if st.users[r.Name] != nil {
		return ErrUserAlreadyExist
	}
	u := &authpb.User{Name: []byte(r.Name), Options: &authpb.UserAddOptions{}}
	if r.Options != nil && r.Options.NoPassword {
		u.Options.NoPassword = true
	} else {
		hash, err := decodeHash(r.HashedPassword)
		if err != nil {
			return err
		}
		u.Password = hash
	}
	st.users[r.Name] = u
	return nil
}

// decodeHash decodes a base64 bcrypt hash as proposed. Apply never hashes:
// a command with a clear password and no hash is refused.
func decodeHash(h string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(h)
	if err != nil || len(b) == 0 {
		return nil, ErrNoPasswordUser
	}
	return b, nil
}

func (st *state) userDelete(name string) error {
	if st.enabled && name == RootUser {
		return ErrInvalidAuthMgmt
	}
	if st.users[name] == nil {
		return ErrUserNotFound
	}
	delete(st.users, name)
	return nil
}

func (st *state) userChangePassword(r *pb.AuthUserChangePasswordRequest) error {
	u := st.users[r.Name]
	if u == nil {
		return ErrUserNotFound
	}
	var hash []byte
	if !isNoPassword(u) {
		var err error
		if hash, err = decodeHash(r.HashedPassword); err != nil {
			return err
		}
	}
	nu := cloneUser(u)
	nu.Password = hash
	st.users[r.Name] = nu
	return nil
}

func (st *state) userGrantRole(user, role string) error {
	u := st.users[user]
	if u == nil {
		return ErrUserNotFound
	}
	if role != RootRole && st.roles[role] == nil {
		return ErrRoleNotFound
	}
	i, found := slices.BinarySearch(u.Roles, role)
	if found {
		return errNoChange // etcd ignores a duplicate grant
	}
	nu := cloneUser(u)
	nu.Roles = slices.Insert(nu.Roles, i, role)
	st.users[user] = nu
	return nil
}

func (st *state) userRevokeRole(user, role string) error {
	if st.enabled && user == RootUser && role == RootRole {
		return ErrInvalidAuthMgmt
	}
	u := st.users[user]
	if u == nil {
		return ErrUserNotFound
	}
	roles, ok := removeString(u.Roles, role)
	if !ok {
		return ErrRoleNotGranted
	}
	nu := cloneUser(u)
	nu.Roles = roles
	st.users[user] = nu
	return nil
}

func (st *state) roleAdd(name string) error {
	if name == "" {
		return ErrRoleEmpty
	}
	if !validName(name) {
		return ErrBadCommand
	}
	if st.roles[name] != nil {
		return ErrRoleAlreadyExist
	}
	st.roles[name] = &authpb.Role{Name: []byte(name)}
	return nil
}

func (st *state) roleDelete(name string) error {
	if st.enabled && name == RootRole {
		return ErrInvalidAuthMgmt
	}
	if st.roles[name] == nil {
		return ErrRoleNotFound
	}
	delete(st.roles, name)
	for _, un := range sortedNames(st.users) {
		u := st.users[un]
		if roles, ok := removeString(u.Roles, name); ok {
			nu := cloneUser(u)
			nu.Roles = roles
			st.users[un] = nu
		}
	}
	return nil
}

func (st *state) roleGrantPermission(name string, p *authpb.Permission) error {
	if p == nil {
		return ErrPermissionNotGiven
	}
	if _, ok := authpb.Permission_Type_name[int32(p.PermType)]; !ok {
		return ErrInvalidPermType
	}
	r := st.roles[name]
	if r == nil {
		return ErrRoleNotFound
	}
	np := &authpb.Permission{PermType: p.PermType, Key: bytes.Clone(p.Key), RangeEnd: bytes.Clone(p.RangeEnd)}
	nr := cloneRole(r)
	i, found := slices.BinarySearchFunc(nr.KeyPermission, np, comparePerm)
	if found {
		nr.KeyPermission[i].PermType = p.PermType
	} else {
		nr.KeyPermission = slices.Insert(nr.KeyPermission, i, np)
	}
	st.roles[name] = nr
	return nil
}

func (st *state) roleRevokePermission(r *pb.AuthRoleRevokePermissionRequest) error {
	role := st.roles[r.Role]
	if role == nil {
		return ErrRoleNotFound
	}
	i, found := slices.BinarySearchFunc(role.KeyPermission, &authpb.Permission{Key: r.Key, RangeEnd: r.RangeEnd}, comparePerm)
	if !found {
		return ErrPermissionNotGranted
	}
	nr := cloneRole(role)
	nr.KeyPermission = slices.Delete(nr.KeyPermission, i, i+1)
	st.roles[r.Role] = nr
	return nil
}
