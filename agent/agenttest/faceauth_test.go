package agenttest_test

import (
	"context"
	"encoding/json"
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

// Permission keys of the faces, as an operator grants them with
// etcdctl: the SQL database "main" and the resources of type demo.Artist
// in partition and namespace "default".
const (
	sqlMainKey        = "\x00sql/main"
	artistDefaultKey  = "\x00resource/demo/Artist/default/default"
	facePasswordSuffx = "pw"
)

// setupFaceAuth runs setupAuth and then, as root, adds face users:
// sqlreader (read on the SQL database), sqlwriter (readwrite on it) and
// artreader (read on demo.Artist in default/default). alice stays kv-only
// (app/) and nobody has no role.
func setupFaceAuth(t *testing.T, c *agenttest.Cluster) *clientv3.Client {
	t.Helper()
	setupAuth(t, c)
	root := userClient(c, "root", "rootpw")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	grants := []struct {
		user, key string
		perm      clientv3.PermissionType
	}{
		{"sqlreader", sqlMainKey, clientv3.PermissionType(clientv3.PermRead)},
		{"sqlwriter", sqlMainKey, clientv3.PermissionType(clientv3.PermReadWrite)},
		{"artreader", artistDefaultKey, clientv3.PermissionType(clientv3.PermRead)},
	}
	for _, g := range grants {
		role := g.user + "-role"
		if _, err := root.RoleAdd(ctx, role); err != nil {
			t.Fatal(err)
		}
		if _, err := root.RoleGrantPermission(ctx, role, g.key, "", g.perm); err != nil {
			t.Fatal(err)
		}
		if _, err := root.UserAdd(ctx, g.user, g.user+facePasswordSuffx); err != nil {
			t.Fatal(err)
		}
		if _, err := root.UserGrantRole(ctx, g.user, role); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// password is user's password: setupAuth's users', or a face user's.
func password(user string) string {
	if pw, ok := passwords[user]; ok {
		return pw
	}
	return user + facePasswordSuffx
}

func basic(user string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, password(user)) }
}

// TestAuthSQLPermissionTable runs every kind of SQL request as users with
// read, readwrite, kv-only and no permissions, and root: reads need read
// on the database, anything that may write needs write.
func TestAuthSQLPermissionTable(t *testing.T) {
	c := authCluster(t, 1, agenttest.Options{})
	setupFaceAuth(t, c)
	base := "http://" + c.Endpoint(0)
	resp, out := do(t, "POST", base+"/db/execute", `["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"]`, basic("root"))
	if resp.StatusCode != http.StatusOK || strings.Contains(out, `"error"`) {
		t.Fatalf("root create table: %d %s", resp.StatusCode, out)
	}

	type sqlOp struct {
		name, method, path, body string
		write                    bool
	}
	ops := []sqlOp{
		{"query", "POST", "/db/query", `["SELECT * FROM t"]`, false},
		{"query strong", "POST", "/db/query?level=strong", `["SELECT * FROM t"]`, false},
		{"query GET", "GET", "/db/query?q=SELECT%201", ``, false},
		{"request read", "POST", "/db/request", `["SELECT * FROM t"]`, false},
		{"backup", "GET", "/db/backup", ``, false},
		{"dump", "GET", "/db/backup?fmt=sql", ``, false},
		{"begin read-only tx", "POST", "/db/tx?read_only", ``, false},
		{"execute", "POST", "/db/execute", `["INSERT INTO t(v) VALUES ('x')"]`, true},
		{"request write", "POST", "/db/request", `["INSERT INTO t(v) VALUES ('y')"]`, true},
		{"request mixed", "POST", "/db/request", `["SELECT 1", "INSERT INTO t(v) VALUES ('z')"]`, true},
		{"begin read-write tx", "POST", "/db/tx", ``, true},
	}
	may := map[string]struct{ read, write bool }{
		"root":      {true, true},
		"sqlwriter": {true, true},
		"sqlreader": {true, false},
		"alice":     {false, false}, // kv permissions only
		"artreader": {false, false}, // resource permissions only
		"nobody":    {false, false},
	}
	for user, m := range may {
		for _, op := range ops {
			allowed := m.read
			if op.write {
				allowed = m.write
			}
			resp, out := do(t, op.method, base+op.path, op.body, basic(user))
			switch {
			case allowed && resp.StatusCode != http.StatusOK:
				t.Errorf("%s %s: %d %s, want 200", user, op.name, resp.StatusCode, out)
			case !allowed && resp.StatusCode != http.StatusForbidden:
				t.Errorf("%s %s: %d %s, want 403", user, op.name, resp.StatusCode, out)
			case !allowed && !strings.Contains(out, "permission denied"):
				t.Errorf("%s %s: body %s does not say permission denied", user, op.name, out)
			}
		}
		// A load replaces the database: only its refusal is tried here.
		if !m.write {
			resp, out := do(t, "POST", base+"/db/load", "not a database", basic(user))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s load: %d %s, want 403", user, resp.StatusCode, out)
			}
		}
	}
	// A refused write changed nothing: only sqlwriter's and root's rows.
	resp, out = do(t, "POST", base+"/db/query?level=strong", `["SELECT COUNT(*) FROM t"]`, basic("root"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(out, `[[6]]`) {
		t.Fatalf("rows after the table: %d %s, want 6 (3 writes x 2 users)", resp.StatusCode, out)
	}
}

// TestAuthSQLTxnBoundToUser: a transaction's id is of no use to another
// user, even root, and their attempts leave it as it was.
func TestAuthSQLTxnBoundToUser(t *testing.T) {
	c := authCluster(t, 1, agenttest.Options{})
	setupFaceAuth(t, c)
	base := "http://" + c.Endpoint(0)
	if resp, out := do(t, "POST", base+"/db/execute", `["CREATE TABLE t (v TEXT)"]`, basic("root")); resp.StatusCode != 200 {
		t.Fatalf("create: %d %s", resp.StatusCode, out)
	}
	resp, out := do(t, "POST", base+"/db/tx", `["INSERT INTO t VALUES ('mine')"]`, basic("sqlwriter"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("begin: %d %s", resp.StatusCode, out)
	}
	var begun struct{ ID string }
	if err := json.Unmarshal([]byte(out), &begun); err != nil || begun.ID == "" {
		t.Fatalf("begin answer %s: %v", out, err)
	}
	tx := base + "/db/tx/" + begun.ID
	for _, user := range []string{"root", "sqlreader", "alice"} {
		for _, try := range []struct{ method, path, body string }{
			{"POST", tx, `["INSERT INTO t VALUES ('theirs')"]`},
			{"POST", tx + "/commit", ``},
			{"DELETE", tx, ``},
		} {
			resp, out := do(t, try.method, try.path, try.body, basic(user))
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s %s: %d %s, want 404 or 403", user, try.method, try.path, resp.StatusCode, out)
			}
		}
	}
	if resp, out := do(t, "POST", tx+"/commit", ``, basic("sqlwriter")); resp.StatusCode != http.StatusOK {
		t.Fatalf("owner's commit after the others' tries: %d %s", resp.StatusCode, out)
	}
	resp, out = do(t, "POST", base+"/db/query?level=strong", `["SELECT v FROM t"]`, basic("root"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(out, `[["mine"]]`) || strings.Contains(out, "theirs") {
		t.Fatalf("after commit: %d %s, want only the owner's row", resp.StatusCode, out)
	}
}

// TestAuthResourcePermissions: a user with read on demo.Artist in
// default/default reads and lists it over REST and gRPC, and is refused
// writes, deletes, other types and wider tenancies; ListByOwner leaves out
// what the user may not read.
func TestAuthResourcePermissions(t *testing.T) {
	c := authCluster(t, 1, agenttest.Options{})
	setupFaceAuth(t, c)
	base := "http://" + c.Endpoint(0)
	const korn = "/v1/resource/demo/v2/Artist/korn"
	resp, out := do(t, "PUT", base+korn, `{"data": {"name": "Korn"}}`, basic("root"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("root write: %d %s", resp.StatusCode, out)
	}
	var written struct {
		ID struct{ UID string } `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &written); err != nil || written.ID.UID == "" {
		t.Fatalf("write answer %s: %v", out, err)
	}
	owner := `{"uid": "` + written.ID.UID + `", "name": "korn", "type": {"group": "demo", "groupVersion": "v2", "kind": "Artist"}, "tenancy": {"partition": "default", "namespace": "default"}}`
	for _, p := range []string{"/v1/resource/demo/v2/Album/issues", "/v1/resource/demo/v2/Artist/korn-tribute"} {
		if resp, out := do(t, "PUT", base+p, `{"owner": `+owner+`}`, basic("root")); resp.StatusCode != http.StatusOK {
			t.Fatalf("root write %s: %d %s", p, resp.StatusCode, out)
		}
	}
	ownedQ := "/v1/resource?owner=demo.v2.Artist/default/default/korn/" + written.ID.UID

	// REST.
	rest := []struct {
		user, method, path, body string
		want                     int
	}{
		{"artreader", "GET", korn, ``, 200},
		{"artreader", "GET", "/v1/resource/demo/v2/Artist", ``, 200},
		{"artreader", "PUT", korn, `{"data": {"name": "K"}}`, 403},
		{"artreader", "DELETE", korn, ``, 403},
		{"artreader", "GET", "/v1/resource/demo/v2/Album", ``, 403},
		{"artreader", "GET", "/v1/resource/demo/v2/Album/issues", ``, 403},
		{"artreader", "GET", korn + "?namespace=other", ``, 403},
		{"artreader", "GET", "/v1/resource/demo/v2/Artist?namespace=*", ``, 403},
		{"artreader", "GET", "/v1/resource/demo/v2/Artist?partition=*&namespace=*", ``, 403},
		{"artreader", "GET", "/v1/resource/demo/v2/Album?watch", ``, 403},
		{"alice", "GET", korn, ``, 403},
		{"sqlwriter", "GET", "/v1/resource/demo/v2/Artist", ``, 403},
		{"nobody", "PUT", "/v1/resource/demo/v2/Artist/other", `{}`, 403},
		{"root", "GET", "/v1/resource/demo/v2/Artist?partition=*&namespace=*", ``, 200},
	}
	for _, tc := range rest {
		resp, out := do(t, tc.method, base+tc.path, tc.body, basic(tc.user))
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s %s: %d %s, want %d", tc.user, tc.method, tc.path, resp.StatusCode, out, tc.want)
		}
		if tc.want == 403 && !strings.Contains(out, `"permission_denied"`) {
			t.Errorf("%s %s %s: body %s lacks the permission_denied code", tc.user, tc.method, tc.path, out)
		}
	}
	resp, out = do(t, "GET", base+ownedQ, ``, basic("artreader"))
	if resp.StatusCode != 200 || !strings.Contains(out, "korn-tribute") || strings.Contains(out, "issues") {
		t.Errorf("artreader owned by korn: %d %s, want the Artist only", resp.StatusCode, out)
	}
	resp, out = do(t, "GET", base+ownedQ, ``, basic("root"))
	if resp.StatusCode != 200 || !strings.Contains(out, "korn-tribute") || !strings.Contains(out, "issues") {
		t.Errorf("root owned by korn: %d %s, want both", resp.StatusCode, out)
	}

	// gRPC, with an etcd token in the metadata.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(c.Endpoint(0), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	as := func(user string) context.Context {
		tok, err := pb.NewAuthClient(conn).Authenticate(ctx, &pb.AuthenticateRequest{Name: user, Password: password(user)})
		if err != nil {
			t.Fatal(err)
		}
		return metadata.NewOutgoingContext(ctx, metadata.Pairs(rpctypes.TokenFieldNameGRPC, tok.Token))
	}
	rc := pbresource.NewResourceServiceClient(conn)
	reader := as("artreader")
	artist := &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"}
	album := &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Album"}
	def := &pbresource.Tenancy{Partition: "default", Namespace: "default"}
	kornID := &pbresource.ID{Type: artist, Tenancy: def, Name: "korn"}
	read, err := rc.Read(reader, &pbresource.ReadRequest{Id: kornID})
	if err != nil || read.Resource.Id.Uid != written.ID.UID {
		t.Fatalf("gRPC read as artreader: %v %v", read, err)
	}
	list, err := rc.List(reader, &pbresource.ListRequest{Type: artist, Tenancy: def})
	if err != nil || len(list.Resources) != 2 {
		t.Fatalf("gRPC list Artist as artreader: %v %v", list, err)
	}
	owned, err := rc.ListByOwner(reader, &pbresource.ListByOwnerRequest{Owner: read.Resource.Id})
	if err != nil || len(owned.Resources) != 1 || owned.Resources[0].Id.Name != "korn-tribute" {
		t.Fatalf("gRPC ListByOwner as artreader: %v %v, want korn-tribute only", owned, err)
	}
	denied := map[string]error{}
	_, denied["write"] = rc.Write(reader, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: kornID}})
	_, denied["mutate and validate"] = rc.MutateAndValidate(reader, &pbresource.MutateAndValidateRequest{Resource: &pbresource.Resource{Id: kornID}})
	_, denied["write status"] = rc.WriteStatus(reader, &pbresource.WriteStatusRequest{Id: read.Resource.Id, Version: read.Resource.Version, Key: "k", Status: &pbresource.Status{ObservedGeneration: read.Resource.Generation}})
	_, denied["delete"] = rc.Delete(reader, &pbresource.DeleteRequest{Id: kornID})
	_, denied["list Album"] = rc.List(reader, &pbresource.ListRequest{Type: album, Tenancy: def})
	_, denied["list every namespace"] = rc.List(reader, &pbresource.ListRequest{Type: artist, Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "*"}})
	_, denied["read Album"] = rc.Read(reader, &pbresource.ReadRequest{Id: &pbresource.ID{Type: album, Tenancy: def, Name: "issues"}})
	denied["watch Album"] = watchErr(reader, rc, album, def)
	_, denied["read as nobody"] = rc.Read(as("nobody"), &pbresource.ReadRequest{Id: kornID})
	_, denied["read as alice"] = rc.Read(as("alice"), &pbresource.ReadRequest{Id: kornID})
	for what, err := range denied {
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("gRPC %s as artreader: %v, want PermissionDenied", what, err)
		}
	}
	if _, err := rc.MutateAndValidate(as("root"), &pbresource.MutateAndValidateRequest{Resource: &pbresource.Resource{Id: kornID}}); err != nil {
		t.Errorf("gRPC MutateAndValidate as root: %v", err)
	}
	if err := watchErr(reader, rc, artist, def); err != nil {
		t.Errorf("gRPC watch Artist as artreader: %v", err)
	}
	if _, err := rc.Read(ctx, &pbresource.ReadRequest{Id: kornID}); status.Code(err) != codes.InvalidArgument && status.Code(err) != codes.Unauthenticated {
		// etcd answers a call without a token with "user name is empty"
		// (InvalidArgument, as etcd's ErrGRPCUserEmpty).
		t.Errorf("gRPC read without a token: %v", err)
	}
	// The refused writes and deletes changed nothing.
	after, err := rc.Read(as("root"), &pbresource.ReadRequest{Id: kornID})
	if err != nil || after.Resource.Version != read.Resource.Version {
		t.Fatalf("korn after the refused writes: %v %v, want version %s", after, err, read.Resource.Version)
	}
}

// watchErr opens a list watch and returns the error of its first event,
// nil if it delivered one.
func watchErr(ctx context.Context, rc pbresource.ResourceServiceClient, typ *pbresource.Type, ten *pbresource.Tenancy) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := rc.WatchList(ctx, &pbresource.WatchListRequest{Type: typ, Tenancy: ten})
	if err != nil {
		return err
	}
	_, err = st.Recv()
	return err
}
