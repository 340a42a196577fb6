package agenttest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
)

// TestAuthCheckedAgainAtApply races a permission check against apply
// deterministically: the auth store's BeforeStampedPropose hook revokes
// the writer's permission after its write was checked and before it is
// proposed. Apply must refuse the write (etcd's "revision of auth store is
// old", which clients answer by authenticating again and retrying, and
// are then refused) and change nothing, for every API: etcd gRPC
// (clientv3), REST /v1/kv, SQL and resources.
func TestAuthCheckedAgainAtApply(t *testing.T) {
	var hook atomic.Pointer[func()]
	c := authCluster(t, 1, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.Auth.BeforeStampedPropose = func(context.Context) {
			if f := hook.Swap(nil); f != nil {
				(*f)()
			}
		}
	}})
	root := setupFaceAuth(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A resource writer: readwrite on demo.Artist in default/default.
	for _, step := range []func() error{
		func() error { _, err := root.RoleAdd(ctx, "artwriter-role"); return err },
		func() error {
			_, err := root.RoleGrantPermission(ctx, "artwriter-role", artistDefaultKey, "", clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := root.UserAdd(ctx, "artwriter", password("artwriter")); return err },
		func() error { _, err := root.UserGrantRole(ctx, "artwriter", "artwriter-role"); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// arm makes the next stamped proposal first take role from user.
	arm := func(user, role string) {
		f := func() {
			if _, err := root.UserRevokeRole(ctx, user, role); err != nil {
				t.Errorf("revoking %s from %s in the hook: %v", role, user, err)
			}
		}
		hook.Store(&f)
	}
	regrant := func(user, role string) {
		t.Helper()
		if hook.Load() != nil {
			t.Fatal("the hook did not run: the write was not stamped")
		}
		if _, err := root.UserGrantRole(ctx, user, role); err != nil {
			t.Fatal(err)
		}
	}
	base := "http://" + c.Endpoint(0)

	// etcd gRPC through clientv3: refused at apply with "revision of auth
	// store is old", clientv3 authenticates again, retries, and is denied.
	alice := userClient(c, "alice", "alicepw")
	if _, err := alice.Put(ctx, "app/warm", "v"); err != nil { // authenticated before the race
		t.Fatal(err)
	}
	arm("alice", "app")
	_, err := alice.Put(ctx, "app/raced", "v")
	if !errors.Is(err, rpctypes.ErrAuthOldRevision) && !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("gRPC put raced by a revocation: %v, want a refusal", err)
	}
	if r, err := root.Get(ctx, "app/raced"); err != nil || len(r.Kvs) != 0 {
		t.Fatalf("gRPC put raced by a revocation was applied: %v %v", r, err)
	}
	regrant("alice", "app")

	// REST /v1/kv with Basic credentials: 401 (the client should
	// authenticate again), nothing written.
	arm("alice", "app")
	resp, out := do(t, "PUT", base+"/v1/kv/app/raced-rest", `{"value": "v"}`, basic("alice"))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(out, "revision") {
		t.Fatalf("REST put raced by a revocation: %d %s, want 401 (auth revision old)", resp.StatusCode, out)
	}
	if r, err := root.Get(ctx, "app/raced-rest"); err != nil || len(r.Kvs) != 0 {
		t.Fatalf("REST put raced by a revocation was applied: %v %v", r, err)
	}
	regrant("alice", "app")

	// SQL.
	if resp, out := do(t, "POST", base+"/db/execute", `["CREATE TABLE raced (v TEXT)"]`, basic("root")); resp.StatusCode != 200 || strings.Contains(out, `"error"`) {
		t.Fatalf("create table: %d %s", resp.StatusCode, out)
	}
	arm("sqlwriter", "sqlwriter-role")
	resp, out = do(t, "POST", base+"/db/execute", `["INSERT INTO raced VALUES ('x')"]`, basic("sqlwriter"))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("SQL insert raced by a revocation: %d %s, want 401", resp.StatusCode, out)
	}
	if resp, out := do(t, "POST", base+"/db/query?level=strong", `["SELECT count(*) FROM raced"]`, basic("root")); resp.StatusCode != 200 || !strings.Contains(out, `[[0]]`) {
		t.Fatalf("SQL insert raced by a revocation was applied: %d %s", resp.StatusCode, out)
	}
	regrant("sqlwriter", "sqlwriter-role")

	// Resources.
	arm("artwriter", "artwriter-role")
	resp, out = do(t, "PUT", base+"/v1/resource/demo/v2/Artist/raced", `{"data": {"name": "x"}}`, basic("artwriter"))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("resource write raced by a revocation: %d %s, want 401", resp.StatusCode, out)
	}
	if resp, out := do(t, "GET", base+"/v1/resource/demo/v2/Artist/raced", ``, basic("root")); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("resource write raced by a revocation was applied: %d %s", resp.StatusCode, out)
	}
	regrant("artwriter", "artwriter-role")

	// Without a race the same writes go through.
	if _, err := alice.Put(ctx, "app/calm", "v"); err != nil {
		t.Fatalf("gRPC put: %v", err)
	}
	if resp, out := do(t, "POST", base+"/db/execute", `["INSERT INTO raced VALUES ('y')"]`, basic("sqlwriter")); resp.StatusCode != 200 || strings.Contains(out, `"error"`) {
		t.Fatalf("SQL insert: %d %s", resp.StatusCode, out)
	}
	if resp, out := do(t, "PUT", base+"/v1/resource/demo/v2/Artist/calm", `{"data": {"name": "x"}}`, basic("artwriter")); resp.StatusCode != 200 {
		t.Fatalf("resource write: %d %s", resp.StatusCode, out)
	}
}
