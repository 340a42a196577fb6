package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/authpb"
)

// TestPermissionTable checks user x role x key range x op against etcd's
// rules: a key, a range, a prefix and from-key permissions, READ, WRITE
// and READWRITE, a union of grants, and the root role.
func TestPermissionTable(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := context.Background()
	enableWithRoot(t, s)
	roles := map[string][]*authpb.Permission{
		"key":    {perm(authpb.READWRITE, "k", "")},
		"prefix": {perm(authpb.READ, "p/", "p0")},
		"range":  {perm(authpb.WRITE, "a", "c")},
		"from":   {perm(authpb.READ, "m", "\x00")},
		"split":  {perm(authpb.READ, "s1", "s3"), perm(authpb.READ, "s3", "s5")},
	}
	for r, ps := range roles {
		must(t, s.RoleAdd(ctx, root, r))
		for _, p := range ps {
			must(t, s.RoleGrantPermission(ctx, root, r, p))
		}
		must(t, s.UserAdd(ctx, root, userAdd("u-"+r, "pw")))
		must(t, s.UserGrantRole(ctx, root, "u-"+r, r))
	}
	must(t, s.UserAdd(ctx, root, userAdd("nobody", "pw")))
	must(t, s.UserAdd(ctx, root, userAdd("admin", "pw")))
	must(t, s.UserGrantRole(ctx, root, "admin", RootRole))

	type c struct {
		user     string
		op       Op
		key, end string
		ok       bool
	}
	cases := []c{
		{"u-key", OpRead, "k", "", true},
		{"u-key", OpWrite, "k", "", true},
		{"u-key", OpRead, "k2", "", false},
		{"u-key", OpRead, "k", "l", false}, // a range beyond the key
		{"u-prefix", OpRead, "p/x", "", true},
		{"u-prefix", OpRead, "p/", "p0", true},
		{"u-prefix", OpRead, "p/a", "p/b", true},
		{"u-prefix", OpRead, "p", "p0", false},
		{"u-prefix", OpWrite, "p/x", "", false},
		{"u-prefix", OpRead, "p/", "\x00", false}, // from-key is beyond the prefix
		{"u-range", OpWrite, "a", "", true},
		{"u-range", OpWrite, "bzzz", "", true},
		{"u-range", OpWrite, "c", "", false},
		{"u-range", OpWrite, "a", "c", true},
		{"u-range", OpWrite, "a", "d", false},
		{"u-range", OpRead, "a", "", false},
		{"u-from", OpRead, "m", "", true},
		{"u-from", OpRead, "zzz", "", true},
		{"u-from", OpRead, "m", "\x00", true},
		{"u-from", OpRead, "l", "\x00", false},
		{"u-split", OpRead, "s1", "s5", true}, // two grants together
		{"u-split", OpRead, "s1", "s6", false},
		{"nobody", OpRead, "k", "", false},
		{"admin", OpWrite, "anything", "\x00", true},
		{"admin", OpAdmin, "", "", true},
		{"u-key", OpAdmin, "", "", false},
		{"ghost", OpRead, "k", "", false},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s/%s/%q-%q", tc.user, tc.op, tc.key, tc.end)
		req := Request{User: Identity{Name: tc.user}, Op: tc.op, Key: []byte(tc.key)}
		if tc.end != "" {
			req.RangeEnd = []byte(tc.end)
		}
		err := s.Authorize(ctx, req)
		if tc.ok && err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
		if !tc.ok && !errors.Is(err, ErrPermissionDenied) && !errors.Is(err, ErrUserNotFound) {
			t.Errorf("%s: %v, want permission denied", name, err)
		}
	}
	if err := s.Authorize(ctx, Request{Op: OpRead, Key: []byte("k")}); !errors.Is(err, ErrUserEmpty) {
		t.Errorf("no user: %v", err)
	}
	old := Identity{Name: "u-key", Revision: s.Revision() - 1}
	if err := s.Authorize(ctx, Request{User: old, Op: OpRead, Key: []byte("k")}); !errors.Is(err, ErrAuthOldRevision) {
		t.Errorf("old revision: %v", err)
	}
}

func TestNamespaces(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := context.Background()
	enableWithRoot(t, s)
	must(t, s.RoleAdd(ctx, root, "sqlr"))
	k, end := NamespacedKey(NamespaceSQL, []byte("main"), nil)
	must(t, s.RoleGrantPermission(ctx, root, "sqlr", &authpb.Permission{PermType: authpb.READ, Key: k, RangeEnd: end}))
	must(t, s.RoleAdd(ctx, root, "res"))
	k, end = NamespacedKey(NamespaceResource, []byte("demo/"), PrefixEnd([]byte("demo/")))
	must(t, s.RoleGrantPermission(ctx, root, "res", &authpb.Permission{PermType: authpb.READWRITE, Key: k, RangeEnd: end}))
	must(t, s.RoleAdd(ctx, root, "kvall"))
	must(t, s.RoleGrantPermission(ctx, root, "kvall", perm(authpb.READWRITE, "\x01", "\x00")))
	must(t, s.UserAdd(ctx, root, userAdd("u", "pw")))
	for _, r := range []string{"sqlr", "res", "kvall"} {
		must(t, s.UserGrantRole(ctx, root, "u", r))
	}
	u := Identity{Name: "u"}
	for _, tc := range []struct {
		req Request
		ok  bool
	}{
		{Request{User: u, Op: OpRead, Namespace: NamespaceSQL, Key: []byte("main")}, true},
		{Request{User: u, Op: OpWrite, Namespace: NamespaceSQL, Key: []byte("main")}, false},
		{Request{User: u, Op: OpRead, Namespace: NamespaceSQL, Key: []byte("other")}, false},
		{Request{User: u, Op: OpWrite, Namespace: NamespaceResource, Key: ResourceKey("demo", "Artist", "default", "default")}, true},
		{Request{User: u, Op: OpRead, Namespace: NamespaceResource, Key: ResourceKey("other", "Artist", "default", "default")}, false},
		{Request{User: u, Op: OpRead, Namespace: NamespaceResource, Key: []byte("demo/"), RangeEnd: PrefixEnd([]byte("demo/"))}, true},
		{Request{User: u, Op: OpRead, Namespace: NamespaceResource, Key: []byte(""), RangeEnd: []byte{0}}, false},
		// kv keys from "\x01" on do not reach the namespaces under "\x00".
		{Request{User: u, Op: OpWrite, Key: []byte("x")}, true},
		{Request{User: u, Op: OpRead, Namespace: NamespaceCluster}, true},
		{Request{User: u, Op: OpWrite, Namespace: NamespaceCluster}, false},
		{Request{User: u, Op: OpAdmin, Namespace: NamespaceCluster}, false},
	} {
		err := s.Authorize(ctx, tc.req)
		if (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.req, err, tc.ok)
		}
	}
}

func TestDisabledAllowsEverything(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	if err := s.Authorize(context.Background(), Request{Op: OpAdmin}); err != nil {
		t.Fatal(err)
	}
	var nilStore *Store
	if err := nilStore.Authorize(context.Background(), Request{Op: OpAdmin}); err != nil {
		t.Fatal(err)
	}
}
