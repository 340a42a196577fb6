package agenttest_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/concord-db/concord/agent/agenttest"
)

// ndjsonStream opens a streaming GET and returns its lines as they come
// (the channel closes at the end of the stream) and the status code.
func ndjsonStream(t *testing.T, ctx context.Context, url string, auth func(*http.Request)) (<-chan string, int) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines, resp.StatusCode
}

// nextLine returns the stream's next line, "" at its end; it fails the
// test if none comes in time.
func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l := <-lines:
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("no line from the watch stream")
	}
	return ""
}

// wantEnd reads the stream to its end: its last line must contain want,
// and no line before it may contain forbidden.
func wantEnd(t *testing.T, lines <-chan string, want, forbidden string) {
	t.Helper()
	last := ""
	for {
		l := nextLine(t, lines)
		if l == "" {
			break
		}
		if strings.Contains(l, forbidden) {
			t.Fatalf("line after the auth change: %s", l)
		}
		last = l
	}
	if !strings.Contains(last, want) {
		t.Fatalf("last line %q, want it to contain %q", last, want)
	}
}

// TestAuthRESTWatchStops: a REST (NDJSON) key watch ends with etcd's
// "permission denied" when its user loses the permission, when the user
// is deleted, and when auth is enabled under a watch opened without
// credentials; an event written after the change is never delivered.
func TestAuthRESTWatchStops(t *testing.T) {
	c := authCluster(t, 1, agenttest.Options{})
	setupAuth(t, c)
	root := userClient(c, "root", "rootpw")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := "http://" + c.Endpoint(0)
	put := func(k string) {
		t.Helper()
		if _, err := root.Put(ctx, k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, user, prefix string
		change             func() error
	}{
		{"permission revoked", "bob", "ro/", func() error {
			_, err := root.RoleRevokePermission(ctx, "ro", "ro/", clientv3.GetPrefixRangeEnd("ro/"))
			return err
		}},
		{"role revoked", "alice", "app/", func() error { _, err := root.UserRevokeRole(ctx, "alice", "app"); return err }},
		{"user deleted", "nobody", "", nil}, // nobody may not watch at all: refused at once
		{"auth enabled", "", "open/", func() error { _, err := root.AuthEnable(ctx); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change == nil {
				resp, out := do(t, "GET", base+"/v1/watch/app/?prefix=true", "", basic(tc.user))
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("forbidden watch: %d %s", resp.StatusCode, out)
				}
				return
			}
			var creds func(*http.Request)
			if tc.user != "" {
				creds = basic(tc.user)
			} else if _, err := root.AuthDisable(ctx); err != nil {
				t.Fatal(err)
			}
			wctx, wcancel := context.WithCancel(ctx)
			defer wcancel()
			lines, code := ndjsonStream(t, wctx, base+"/v1/watch/"+tc.prefix+"?prefix=true", creds)
			if code != http.StatusOK || !strings.Contains(nextLine(t, lines), `"created":true`) {
				t.Fatalf("watch as %q: %d", tc.user, code)
			}
			put(tc.prefix + "before")
			if l := nextLine(t, lines); !strings.Contains(l, "PUT") {
				t.Fatalf("event before the change: %s", l)
			}
			if err := tc.change(); err != nil {
				t.Fatal(err)
			}
			put(tc.prefix + "after")
			wantEnd(t, lines, "permission denied", "after")
		})
	}
	// A user deleted under a running, idle watch.
	if _, err := root.UserAdd(ctx, "carol", "carolpw"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.UserGrantRole(ctx, "carol", "ro"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.RoleGrantPermission(ctx, "ro", "ro/", clientv3.GetPrefixRangeEnd("ro/"), clientv3.PermissionType(clientv3.PermRead)); err != nil {
		t.Fatal(err)
	}
	lines, code := ndjsonStream(t, ctx, base+"/v1/watch/ro/?prefix=true", func(r *http.Request) { r.SetBasicAuth("carol", "carolpw") })
	if code != http.StatusOK || !strings.Contains(nextLine(t, lines), `"created":true`) {
		t.Fatalf("watch as carol: %d", code)
	}
	if _, err := root.UserDelete(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	// Nothing is written: an idle watch stops too.
	wantEnd(t, lines, "permission denied", "PUT")
}

// TestAuthResourceWatchStops: resource list watches, REST and gRPC, end
// with the permission error when the user loses read on the watched type
// and tenancy: at the next event (which is not delivered) or, idle, at
// once.
func TestAuthResourceWatchStops(t *testing.T) {
	c := authCluster(t, 1, agenttest.Options{})
	root := setupFaceAuth(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := "http://" + c.Endpoint(0)
	write := func(name string) {
		t.Helper()
		if resp, out := do(t, "PUT", base+"/v1/resource/demo/v2/Artist/"+name, `{"data": {"name": "x"}}`, basic("root")); resp.StatusCode != http.StatusOK {
			t.Fatalf("write %s: %d %s", name, resp.StatusCode, out)
		}
	}
	grant := func() {
		t.Helper()
		if _, err := root.RoleGrantPermission(ctx, "artreader-role", artistDefaultKey, "", clientv3.PermissionType(clientv3.PermRead)); err != nil {
			t.Fatal(err)
		}
	}
	revoke := func() {
		t.Helper()
		if _, err := root.RoleRevokePermission(ctx, "artreader-role", artistDefaultKey, ""); err != nil {
			t.Fatal(err)
		}
	}

	// REST.
	lines, code := ndjsonStream(t, ctx, base+"/v1/resource/demo/v2/Artist?watch", basic("artreader"))
	if code != http.StatusOK || !strings.Contains(nextLine(t, lines), "end_of_snapshot") {
		t.Fatalf("REST watch: %d", code)
	}
	write("before-rest")
	if l := nextLine(t, lines); !strings.Contains(l, "before-rest") {
		t.Fatalf("REST event before the revocation: %s", l)
	}
	revoke()
	write("after-rest")
	wantEnd(t, lines, `"code":"permission_denied"`, "after-rest")

	// gRPC, with an etcd token (issued before the revocations that follow:
	// the open watch keeps counting only the user's permissions).
	grant()
	conn, err := grpc.NewClient(c.Endpoint(0), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tok, err := pb.NewAuthClient(conn).Authenticate(ctx, &pb.AuthenticateRequest{Name: "artreader", Password: password("artreader")})
	if err != nil {
		t.Fatal(err)
	}
	rctx := metadata.NewOutgoingContext(ctx, metadata.Pairs(rpctypes.TokenFieldNameGRPC, tok.Token))
	artist := &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"}
	st, err := pbresource.NewResourceServiceClient(conn).WatchList(rctx, &pbresource.WatchListRequest{Type: artist, Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := st.Recv()
		if err != nil {
			t.Fatalf("gRPC watch snapshot: %v", err)
		}
		if ev.GetEndOfSnapshot() != nil {
			break
		}
	}
	write("before-grpc")
	if ev, err := st.Recv(); err != nil || ev.GetUpsert().GetResource().GetId().GetName() != "before-grpc" {
		t.Fatalf("gRPC event before the revocation: %v %v", ev, err)
	}
	// Revoked while the watch waits: it ends without a write to wake it.
	revoke()
	for {
		ev, err := st.Recv()
		if err != nil {
			if status.Code(err) != codes.PermissionDenied {
				t.Fatalf("gRPC watch ended with %v, want PermissionDenied", err)
			}
			break
		}
		if ev.GetUpsert().GetResource().GetId().GetName() == "after-grpc" {
			t.Fatalf("gRPC event after the revocation: %v", ev)
		}
	}
}
