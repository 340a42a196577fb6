package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/concord-db/concord/node"
	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"golang.org/x/crypto/bcrypt"
)

// authenticateRetries bounds how often Authenticate checks the password
// again when the auth state changed between the check and the commit.
const authenticateRetries = 3

// propose commits an auth command asked by who and waits until this member
// has applied it, so that the caller's next request here sees it.
func (s *Store) propose(ctx context.Context, who Identity, c Command) (string, error) {
	c.User = who.Name
	if c.Revision == 0 {
		c.Revision = s.Revision()
	}
	cmd, err := EncodeCommand(c)
	if err != nil {
		return "", err
	}
	res, err := s.node.Apply(ctx, node.TypeAuth, cmd)
	if err != nil {
		return "", err
	}
	if err := s.node.WaitApplied(ctx, res.Index); err != nil {
		return "", err
	}
	return decodeResult(res.Data)
}

// admin checks, before proposing, what apply checks again: that who may
// manage auth (root, or anyone while auth is off).
func (s *Store) admin(who Identity) error {
	if !s.Enabled() {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.adminPermitted(who.Name)
}

// change proposes a state change asked by who.
func (s *Store) change(ctx context.Context, who Identity, body interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}) error {
	if err := s.admin(who); err != nil {
		return err
	}
	_, err := s.propose(ctx, who, Command{Body: body})
	return err
}

// AuthEnable turns authentication on; the root user must exist and have
// the root role.
func (s *Store) AuthEnable(ctx context.Context, who Identity) error {
	return s.change(ctx, who, &pb.AuthEnableRequest{})
}

// AuthDisable turns authentication off and forgets every token.
func (s *Store) AuthDisable(ctx context.Context, who Identity) error {
	return s.change(ctx, who, &pb.AuthDisableRequest{})
}

// AuthStatus returns whether auth is on and the auth revision, after a
// read barrier.
func (s *Store) AuthStatus(ctx context.Context, who Identity) (bool, uint64, error) {
	if err := s.read(ctx, who); err != nil {
		return false, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.enabled, s.st.revision, nil
}

// read runs the read barrier and the admin check of a read of the auth
// state.
func (s *Store) read(ctx context.Context, who Identity) error {
	if err := s.node.ReadBarrier(ctx); err != nil {
		return err
	}
	return s.admin(who)
}

// Authenticate checks a user's password after a read barrier and returns
// a token (etcd's Authenticate). A simple token is issued through the log, so that every
// member knows it; a JWT is signed here.
func (s *Store) Authenticate(ctx context.Context, name, password string) (string, error) {
	if name == "" {
		return "", ErrUserEmpty
	}
	// As etcd: the password is checked against a state at least as new
	// as anything committed before the request (a user just added on
	// another member is found).
	if err := s.node.ReadBarrier(ctx); err != nil {
		return "", err
	}
	for range authenticateRetries {
		rev, err := s.checkPassword(name, password)
		if errors.Is(err, ErrNoPasswordUser) {
			return "", ErrAuthFailed
		}
		if err != nil {
			return "", err
		}
		if s.jwt != nil {
			return s.jwt.sign(name, rev)
		}
		token, err := s.propose(ctx, Identity{}, Command{Revision: rev, IssuedUnixNano: s.cfg.Now().UnixNano(),
			Body: &pb.InternalAuthenticateRequest{Name: name, SimpleToken: newTokenPrefix()}})
		if errors.Is(err, ErrAuthOldRevision) {
			continue // the user changed between the check and the commit
		}
		return token, err
	}
	return "", ErrAuthOldRevision
}

// hash returns the base64 bcrypt hash of password, as proposed.
func (s *Store) hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return base64.StdEncoding.EncodeToString(h), nil
}

// UserAdd adds a user. Its password is hashed here, before proposing; a
// user with Options.NoPassword has none and authenticates only by
// certificate.
func (s *Store) UserAdd(ctx context.Context, who Identity, r *pb.AuthUserAddRequest) error {
	if err := s.admin(who); err != nil {
		return err
	}
	if r.Name == "" {
		return ErrUserEmpty
	}
	req := &pb.AuthUserAddRequest{Name: r.Name, Options: r.Options}
	if r.Options == nil || !r.Options.NoPassword {
		h := r.HashedPassword
		if h == "" {
			var err error
			if h, err = s.hash(r.Password); err != nil {
				return err
			}
		}
		req.HashedPassword = h
	}
	_, err := s.propose(ctx, who, Command{Body: req})
	return err
}

// UserChangePassword sets a user's password (hashed here) and ends its
// tokens.
func (s *Store) UserChangePassword(ctx context.Context, who Identity, r *pb.AuthUserChangePasswordRequest) error {
	if err := s.admin(who); err != nil {
		return err
	}
	req := &pb.AuthUserChangePasswordRequest{Name: r.Name, HashedPassword: r.HashedPassword}
	if req.HashedPassword == "" {
		h, err := s.hash(r.Password)
		if err != nil {
			return err
		}
		req.HashedPassword = h
	}
	_, err := s.propose(ctx, who, Command{Body: req})
	return err
}

// UserDelete deletes a user and ends its tokens.
func (s *Store) UserDelete(ctx context.Context, who Identity, name string) error {
	return s.change(ctx, who, &pb.AuthUserDeleteRequest{Name: name})
}

// UserGrantRole grants a role to a user.
func (s *Store) UserGrantRole(ctx context.Context, who Identity, user, role string) error {
	return s.change(ctx, who, &pb.AuthUserGrantRoleRequest{User: user, Role: role})
}

// UserRevokeRole revokes a role from a user.
func (s *Store) UserRevokeRole(ctx context.Context, who Identity, user, role string) error {
	return s.change(ctx, who, &pb.AuthUserRevokeRoleRequest{Name: user, Role: role})
}

// RoleAdd adds a role without permissions.
func (s *Store) RoleAdd(ctx context.Context, who Identity, name string) error {
	if err := s.admin(who); err != nil {
		return err
	}
	if name == "" {
		return ErrRoleEmpty
	}
	return s.change(ctx, who, &pb.AuthRoleAddRequest{Name: name})
}

// RoleDelete deletes a role and revokes it from every user.
func (s *Store) RoleDelete(ctx context.Context, who Identity, name string) error {
	return s.change(ctx, who, &pb.AuthRoleDeleteRequest{Role: name})
}

// RoleGrantPermission grants (or changes the type of) a permission on a
// key, a range, a prefix or every key from one on.
func (s *Store) RoleGrantPermission(ctx context.Context, who Identity, role string, p *authpb.Permission) error {
	if err := s.admin(who); err != nil {
		return err
	}
	if p == nil {
		return ErrPermissionNotGiven
	}
	if _, ok := authpb.Permission_Type_name[int32(p.PermType)]; !ok {
		return ErrInvalidPermType
	}
	return s.change(ctx, who, &pb.AuthRoleGrantPermissionRequest{Name: role, Perm: p})
}

// RoleRevokePermission revokes the permission on exactly key and rangeEnd.
func (s *Store) RoleRevokePermission(ctx context.Context, who Identity, role string, key, rangeEnd []byte) error {
	return s.change(ctx, who, &pb.AuthRoleRevokePermissionRequest{Role: role, Key: key, RangeEnd: rangeEnd})
}

// UserGet returns a user's roles. Root may read any user, a user itself.
func (s *Store) UserGet(ctx context.Context, who Identity, name string) ([]string, error) {
	if err := s.node.ReadBarrier(ctx); err != nil {
		return nil, err
	}
	if err := s.admin(who); err != nil && (who.Name == "" || who.Name != name) {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.users[name]
	if u == nil {
		return nil, ErrUserNotFound
	}
	return slices.Clone(u.Roles), nil
}

// UserList returns every user name, sorted.
func (s *Store) UserList(ctx context.Context, who Identity) ([]string, error) {
	if err := s.read(ctx, who); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedNames(s.st.users), nil
}

// RoleGet returns a role's permissions. Root may read any role, a user the
// roles it has. The root role shows as readwrite on every key.
func (s *Store) RoleGet(ctx context.Context, who Identity, name string) ([]*authpb.Permission, error) {
	if err := s.node.ReadBarrier(ctx); err != nil {
		return nil, err
	}
	if err := s.admin(who); err != nil && !s.HasRole(who.Name, name) {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.st.roles[name]
	if r == nil {
		return nil, ErrRoleNotFound
	}
	if name == RootRole {
		p := rootPerm
		return []*authpb.Permission{&p}, nil
	}
	return cloneRole(r).KeyPermission, nil
}

// RoleList returns every role name, sorted.
func (s *Store) RoleList(ctx context.Context, who Identity) ([]string, error) {
	if err := s.read(ctx, who); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedNames(s.st.roles), nil
}
