package auth

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func userAdd(name, password string) *pb.AuthUserAddRequest {
	return &pb.AuthUserAddRequest{Name: name, Password: password}
}

func TestEnableNeedsRootUserWithRootRole(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := context.Background()
	if err := s.AuthEnable(ctx, Identity{}); !errors.Is(err, ErrRootUserNotExist) {
		t.Fatalf("enable without root: %v", err)
	}
	must(t, s.UserAdd(ctx, Identity{}, userAdd(RootUser, "pw")))
	if err := s.AuthEnable(ctx, Identity{}); !errors.Is(err, ErrRootRoleNotExist) {
		t.Fatalf("enable without root role: %v", err)
	}
	must(t, s.UserGrantRole(ctx, Identity{}, RootUser, RootRole))
	must(t, s.AuthEnable(ctx, Identity{}))
	if !s.Enabled() {
		t.Fatal("not enabled")
	}
	// Enabled: root can't be deleted nor lose its role, the root role stays.
	for name, err := range map[string]error{
		"delete root":      s.UserDelete(ctx, root, RootUser),
		"revoke root role": s.UserRevokeRole(ctx, root, RootUser, RootRole),
		"delete root role": s.RoleDelete(ctx, root, RootRole),
	} {
		if !errors.Is(err, ErrInvalidAuthMgmt) {
			t.Errorf("%s: %v, want ErrInvalidAuthMgmt", name, err)
		}
	}
}

func TestAdminOnlyWhenEnabled(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := context.Background()
	enableWithRoot(t, s)
	must(t, s.UserAdd(ctx, root, userAdd("alice", "pw")))
	alice := Identity{Name: "alice"}
	if err := s.RoleAdd(ctx, alice, "r"); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("non-root role add: %v", err)
	}
	if err := s.RoleAdd(ctx, Identity{}, "r"); !errors.Is(err, ErrUserEmpty) {
		t.Fatalf("anonymous role add: %v", err)
	}
	// The apply-side check holds even if a proposer skipped its own.
	rev := s.Revision()
	cmd, _ := EncodeCommand(Command{User: "alice", Body: &pb.AuthRoleAddRequest{Name: "r"}})
	if _, err := decodeResult(s.Apply(1000, cmd)); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("apply of a non-root change: %v", err)
	}
	if s.Revision() != rev {
		t.Fatal("a refused command changed the revision")
	}
	// A user may read itself, not others.
	if _, err := s.UserGet(ctx, alice, "alice"); err != nil {
		t.Fatalf("self get: %v", err)
	}
	if _, err := s.UserGet(ctx, alice, RootUser); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("get other: %v", err)
	}
}

func TestUserAndRoleLifecycle(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := context.Background()
	w := Identity{}
	must(t, s.UserAdd(ctx, w, userAdd("u", "pw")))
	if err := s.UserAdd(ctx, w, userAdd("u", "pw")); !errors.Is(err, ErrUserAlreadyExist) {
		t.Fatal(err)
	}
	if err := s.UserAdd(ctx, w, userAdd("", "pw")); !errors.Is(err, ErrUserEmpty) {
		t.Fatal(err)
	}
	if err := s.RoleAdd(ctx, w, ""); !errors.Is(err, ErrRoleEmpty) {
		t.Fatal(err)
	}
	if err := s.UserGrantRole(ctx, w, "u", "nope"); !errors.Is(err, ErrRoleNotFound) {
		t.Fatal(err)
	}
	must(t, s.RoleAdd(ctx, w, "r"))
	if err := s.RoleAdd(ctx, w, "r"); !errors.Is(err, ErrRoleAlreadyExist) {
		t.Fatal(err)
	}
	must(t, s.RoleGrantPermission(ctx, w, "r", perm(authpb.READ, "b", "")))
	must(t, s.RoleGrantPermission(ctx, w, "r", perm(authpb.WRITE, "a", "c")))
	must(t, s.RoleGrantPermission(ctx, w, "r", perm(authpb.READWRITE, "b", ""))) // updates
	perms, err := s.RoleGet(ctx, w, "r")
	must(t, err)
	if len(perms) != 2 || string(perms[0].Key) != "a" || perms[1].PermType != authpb.READWRITE {
		t.Fatalf("perms %v", perms)
	}
	must(t, s.UserGrantRole(ctx, w, "u", "r"))
	rev := s.Revision()
	must(t, s.UserGrantRole(ctx, w, "u", "r")) // duplicate: no change
	if s.Revision() != rev {
		t.Fatal("duplicate grant bumped the revision")
	}
	if err := s.RoleRevokePermission(ctx, w, "r", []byte("x"), nil); !errors.Is(err, ErrPermissionNotGranted) {
		t.Fatal(err)
	}
	must(t, s.RoleRevokePermission(ctx, w, "r", []byte("a"), []byte("c")))
	if err := s.UserRevokeRole(ctx, w, "u", "other"); !errors.Is(err, ErrRoleNotGranted) {
		t.Fatal(err)
	}
	must(t, s.RoleDelete(ctx, w, "r"))
	roles, err := s.UserGet(ctx, w, "u")
	must(t, err)
	if len(roles) != 0 {
		t.Fatalf("deleting a role left it on the user: %v", roles)
	}
	must(t, s.UserDelete(ctx, w, "u"))
	if err := s.UserDelete(ctx, w, "u"); !errors.Is(err, ErrUserNotFound) {
		t.Fatal(err)
	}
	if err := s.RoleGrantPermission(ctx, w, "r", nil); !errors.Is(err, ErrPermissionNotGiven) {
		t.Fatal(err)
	}
}

func TestPasswordIsHashedBeforeProposing(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := context.Background()
	must(t, s.UserAdd(ctx, Identity{}, userAdd("u", "secret")))
	s.mu.RLock()
	hash := s.st.users["u"].Password
	s.mu.RUnlock()
	if len(hash) == 0 || bytes.Contains(hash, []byte("secret")) {
		t.Fatalf("stored password %q", hash)
	}
	// A command carrying a clear password and no hash is refused in apply.
	cmd, _ := EncodeCommand(Command{Body: &pb.AuthUserAddRequest{Name: "v", Password: "clear"}})
	if _, err := decodeResult(s.Apply(99, cmd)); err == nil {
		t.Fatal("apply accepted a clear password")
	}
}

func TestAuthenticate(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := context.Background()
	if _, err := s.Authenticate(ctx, "root", "x"); !errors.Is(err, ErrAuthNotEnabled) {
		t.Fatalf("authenticate while disabled: %v", err)
	}
	enableWithRoot(t, s)
	must(t, s.UserAdd(ctx, root, &pb.AuthUserAddRequest{Name: "cert", Options: &authpb.UserAddOptions{NoPassword: true}}))
	for _, c := range []struct{ user, pw string }{{"root", "wrong"}, {"nobody", "x"}, {"cert", ""}} {
		if _, err := s.Authenticate(ctx, c.user, c.pw); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("authenticate %s/%s: %v, want ErrAuthFailed", c.user, c.pw, err)
		}
	}
	if _, err := s.Authenticate(ctx, "", "x"); !errors.Is(err, ErrUserEmpty) {
		t.Errorf("empty user: %v", err)
	}
	tok, err := s.Authenticate(ctx, "root", "rootpw")
	must(t, err)
	id, err := s.tokenIdentity(ctx, tok)
	must(t, err)
	if id.Name != RootUser {
		t.Fatalf("token names %q", id.Name)
	}
}

func TestSimpleTokenExpiryAndInvalidation(t *testing.T) {
	s, clock := newTestStore(t, Config{TokenTTL: time.Minute})
	ctx := context.Background()
	enableWithRoot(t, s)
	must(t, s.UserAdd(ctx, root, userAdd("u", "pw")))
	tok, err := s.Authenticate(ctx, "u", "pw")
	must(t, err)
	// Use extends the TTL.
	clock.advance(50 * time.Second)
	_, err = s.tokenIdentity(ctx, tok)
	must(t, err)
	clock.advance(50 * time.Second)
	_, err = s.tokenIdentity(ctx, tok)
	must(t, err)
	clock.advance(61 * time.Second)
	if _, err := s.tokenIdentity(ctx, tok); !errors.Is(err, ErrInvalidAuthToken) {
		t.Fatalf("expired token: %v", err)
	}
	// Changing the password, deleting the user and disabling auth end tokens.
	ends := map[string]func(){
		"password": func() {
			must(t, s.UserChangePassword(ctx, root, &pb.AuthUserChangePasswordRequest{Name: "u", Password: "pw"}))
		},
		"disable": func() {
			must(t, s.AuthDisable(ctx, root))
			must(t, s.AuthEnable(ctx, Identity{}))
		},
		"delete": func() { must(t, s.UserDelete(ctx, root, "u")) },
	}
	for _, name := range []string{"password", "disable", "delete"} {
		tok, err := s.Authenticate(ctx, "u", "pw")
		must(t, err)
		ends[name]()
		if _, err := s.tokenIdentity(ctx, tok); !errors.Is(err, ErrInvalidAuthToken) {
			t.Fatalf("token after %s: %v", name, err)
		}
	}
	if _, err := s.tokenIdentity(ctx, "garbage"); !errors.Is(err, ErrInvalidAuthToken) {
		t.Fatal(err)
	}
}

func TestReplayedOldTokenIsNotRevived(t *testing.T) {
	s, clock := newTestStore(t, Config{TokenTTL: time.Minute})
	enableWithRoot(t, s)
	cmd, _ := EncodeCommand(Command{Revision: s.Revision(), IssuedUnixNano: clock.now().Add(-2 * time.Minute).UnixNano(),
		Body: &pb.InternalAuthenticateRequest{Name: RootUser, SimpleToken: newTokenPrefix()}})
	tok, err := decodeResult(s.Apply(500, cmd))
	must(t, err)
	if _, ok := s.tokens.info(tok); ok {
		t.Fatal("a token issued beyond its TTL ago was recorded")
	}
}

func TestAuthenticateStaleRevisionIsRefusedInApply(t *testing.T) {
	s, clock := newTestStore(t, Config{})
	enableWithRoot(t, s)
	cmd, _ := EncodeCommand(Command{Revision: s.Revision() - 1, IssuedUnixNano: clock.now().UnixNano(),
		Body: &pb.InternalAuthenticateRequest{Name: RootUser, SimpleToken: newTokenPrefix()}})
	if _, err := decodeResult(s.Apply(500, cmd)); !errors.Is(err, ErrAuthOldRevision) {
		t.Fatalf("stale authenticate: %v", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := context.Background()
	enableWithRoot(t, s)
	must(t, s.RoleAdd(ctx, root, "r"))
	must(t, s.RoleGrantPermission(ctx, root, "r", perm(authpb.READ, "k", "\x00")))
	must(t, s.UserAdd(ctx, root, userAdd("u", "pw")))
	must(t, s.UserGrantRole(ctx, root, "u", "r"))
	sn, err := s.Snapshot()
	must(t, err)
	var buf bytes.Buffer
	must(t, sn.Persist(&buf))
	must(t, s.ValidateSnapshot(bytes.NewReader(buf.Bytes())))
	s2, _ := newTestStore(t, Config{})
	must(t, s2.Restore(bytes.NewReader(buf.Bytes())))
	if !equalState(&s.st, &s2.st) || !s2.Enabled() || s2.Revision() != s.Revision() {
		t.Fatal("restored state differs")
	}
	// An empty section is the empty state; a corrupt one is refused and
	// changes nothing.
	must(t, s2.ValidateSnapshot(bytes.NewReader(nil)))
	bad := append(bytes.Clone(buf.Bytes()), 1)
	if err := s2.Restore(bytes.NewReader(bad)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("trailing byte: %v", err)
	}
	if !equalState(&s.st, &s2.st) {
		t.Fatal("a refused restore changed the state")
	}
}

func TestApplyIsDeterministic(t *testing.T) {
	// Replaying a store's log into another gives a byte-identical state.
	a, _ := newTestStore(t, Config{})
	ctx := context.Background()
	enableWithRoot(t, a)
	must(t, a.RoleAdd(ctx, root, "r"))
	must(t, a.RoleGrantPermission(ctx, root, "r", perm(authpb.WRITE, "a", "b")))
	must(t, a.UserAdd(ctx, root, userAdd("u", "pw")))
	must(t, a.UserGrantRole(ctx, root, "u", "r"))
	must(t, a.RoleDelete(ctx, root, "r"))
	_, err := a.Authenticate(ctx, "u", "pw")
	must(t, err)
	b, _ := newTestStore(t, Config{})
	for i, cmd := range a.node.(*fakeNode).log {
		b.Apply(uint64(i+1), cmd)
	}
	if !equalState(&a.st, &b.st) {
		t.Fatal("replayed state differs")
	}
}
