package agenttest_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/hashicorp/consul/proto-public/pbresource"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// publicGRPC are the gRPC methods anyone may call while auth is on.
var publicGRPC = []string{"/etcdserverpb.Auth/Authenticate"}

// anyUserGRPC are the etcd methods any authenticated user may call: etcd
// checks none of them (concord asks for a user at least).
var anyUserGRPC = []string{
	"/etcdserverpb.Auth/Authenticate",
	"/etcdserverpb.Cluster/MemberList",
	"/etcdserverpb.Lease/LeaseGrant",
	"/etcdserverpb.Lease/LeaseKeepAlive",
	"/etcdserverpb.Lease/LeaseLeases",
}

// anyUserFaceGRPC are the faces' methods any authenticated user may call:
// none (MutateAndValidate, a dry run of a write, is authorised like the
// write).
var anyUserFaceGRPC = []string{}

// publicHTTP and anyUserHTTP are the same for the HTTP routes.
var (
	publicHTTP = []string{"GET /healthz", "GET /readyz", "GET /metrics", "POST /v1/auth/authenticate",
		"GET /ui", "GET /ui/{file...}"} // the web console's static files, which hold no data
	anyUserHTTP = []string{"GET /v1/status", "GET /v1/members", "GET /status", "GET /nodes", // the last two: rqlite's cluster view (SQL face)
		"GET /v1/console/cluster", "GET /v1/console/metrics", "GET /v1/console/session"} // the web console's views
	// ownedHTTP are routes on an object bound to the user that made it (a
	// SQL transaction, here root's): another user is told it is unknown.
	ownedHTTP = []string{"POST /db/tx/{id}", "POST /db/tx/{id}/commit", "DELETE /db/tx/{id}"}
)

// TestAuthEndpointWalk calls every gRPC method of every service registered
// on the client port, and every HTTP route it serves, first without
// credentials and then as a user without any role, and expects a refusal
// from each but the few listed above. The lists of methods and routes come
// from the server, so an endpoint added without a check fails here.
func TestAuthEndpointWalk(t *testing.T) {
	// --pprof on, so that its route is walked too.
	c := authCluster(t, 1, agenttest.Options{Configure: func(_ int, cfg *agent.Config) { cfg.Pprof = true }})
	setupAuth(t, c)
	a := c.Agent(0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(c.Endpoint(0), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// A lease with a key only root may write: revoking it, or reading its
	// keys, is refused to others.
	root := userClient(c, "root", "rootpw")
	lease, err := root.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Put(ctx, "secret", "v", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	tok, err := pb.NewAuthClient(conn).Authenticate(ctx, &pb.AuthenticateRequest{Name: "nobody", Password: "nobodypw"})
	if err != nil {
		t.Fatal(err)
	}
	nobody := metadata.NewOutgoingContext(ctx, metadata.Pairs(rpctypes.TokenFieldNameGRPC, tok.Token))

	calls := etcdCalls(conn, int64(lease.ID))
	var etcdMethods, faceMethods []string
	for svc, info := range a.Server.GRPC().GetServiceInfo() {
		for _, m := range info.Methods {
			full := "/" + svc + "/" + m.Name
			if strings.HasPrefix(svc, "grpc.health.") {
				continue // the gRPC health service, open like /healthz
			}
			// (a) no credentials: refused before the handler, whatever the
			// request.
			if !slices.Contains(publicGRPC, full) {
				if err := invokeEmpty(ctx, conn, full, m); rpctypes.ErrorDesc(err) != rpctypes.ErrorDesc(rpctypes.ErrGRPCUserEmpty) {
					t.Errorf("%s without credentials: %v, want %q", full, err, rpctypes.ErrGRPCUserEmpty)
				}
			}
			if strings.HasPrefix(svc, "etcdserverpb.") {
				etcdMethods = append(etcdMethods, full)
			} else {
				faceMethods = append(faceMethods, full)
			}
		}
	}
	// (b) a user without roles, with meaningful requests, on every etcd
	// method and every method of the faces' services (which authorize
	// objects themselves).
	for _, full := range faceMethods {
		call, ok := faceCalls[full]
		if !ok {
			t.Errorf("%s: not in the walk; add a call (and a permission check)", full)
			continue
		}
		err := call(nobody, pbresource.NewResourceServiceClient(conn))
		if slices.Contains(anyUserFaceGRPC, full) {
			if err != nil {
				t.Errorf("%s as a user without roles: %v, want success", full, err)
			}
			continue
		}
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s as a user without roles: %v, want PermissionDenied", full, err)
		}
	}
	for full := range faceCalls {
		if !slices.Contains(faceMethods, full) {
			t.Errorf("%s is in the walk but not served", full)
		}
	}
	for _, full := range etcdMethods {
		call, ok := calls[full]
		if !ok {
			t.Errorf("%s: not in the walk; add a call (and a permission check)", full)
			continue
		}
		err := call(nobody)
		if slices.Contains(anyUserGRPC, full) {
			if err != nil {
				t.Errorf("%s as a user without roles: %v, want success", full, err)
			}
			continue
		}
		if rpctypes.ErrorDesc(err) != rpctypes.ErrorDesc(rpctypes.ErrGRPCPermissionDenied) {
			t.Errorf("%s as a user without roles: %v, want permission denied", full, err)
		}
	}
	for full := range calls {
		if !slices.Contains(etcdMethods, full) {
			t.Errorf("%s is in the walk but not served", full)
		}
	}

	// HTTP: every route, without credentials and then as nobody. The
	// transaction routes name a transaction root began.
	base := "http://" + c.Endpoint(0)
	resp, out := do(t, "POST", base+"/db/tx", "", func(r *http.Request) { r.SetBasicAuth("root", "rootpw") })
	rootTx := between(out, `"id":"`, `"`)
	if resp.StatusCode != http.StatusOK || rootTx == "" {
		t.Fatalf("root begins a transaction: %d %s", resp.StatusCode, out)
	}
	paths := map[string]string{
		"GET /db/query":           "/db/query?q=SELECT%201",
		"GET /v1/resource":        "/v1/resource?owner=demo.v2.Artist/default/default/korn/01ARZ3NDEKTSV4RRFFQ69G5FAV",
		"POST /db/tx/{id}":        "/db/tx/" + rootTx,
		"POST /db/tx/{id}/commit": "/db/tx/" + rootTx + "/commit",
		"DELETE /db/tx/{id}":      "/db/tx/" + rootTx,
	}
	routes := a.Server.Routes()
	if len(routes) < 10 || !slices.Contains(routes, "GET /debug/pprof/{profile...}") {
		t.Fatalf("routes (want every one, pprof's included): %v", routes)
	}
	for _, pattern := range routes {
		if slices.Contains(publicHTTP, pattern) {
			continue
		}
		method, path, _ := strings.Cut(pattern, " ")
		url := base + fillPattern(path)
		if p, ok := paths[pattern]; ok {
			url = base + p
		}
		body := walkBodies[pattern]
		if body == "" {
			body = "{}"
		}
		resp, out := do(t, method, url, body, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d %s", pattern, resp.StatusCode, out)
		}
		resp, out = do(t, method, url, body, func(r *http.Request) { r.SetBasicAuth("nobody", "nobodypw") })
		want := http.StatusForbidden
		switch {
		case slices.Contains(anyUserHTTP, pattern):
			want = http.StatusOK
		case slices.Contains(ownedHTTP, pattern):
			want = http.StatusNotFound
		}
		if resp.StatusCode != want {
			t.Errorf("%s as a user without roles: %d %s, want %d", pattern, resp.StatusCode, out, want)
		}
	}
}

// walkBodies are request bodies that name keys, for routes whose check
// depends on them.
var walkBodies = map[string]string{
	"POST /v1/txn":        `{"success":[{"put":{"key":"k","value":"v"}}]}`,
	"PUT /v1/kv/{key...}": `{"value":"v"}`,
	"POST /db/execute":    `["CREATE TABLE w (v TEXT)"]`,
	"POST /db/query":      `["SELECT 1"]`,
	"POST /db/request":    `["SELECT 1"]`,
	"POST /db/tx":         `["SELECT 1"]`,
	"POST /db/tx/{id}":    `["SELECT 1"]`,
}

// walkWildcards fill the faces' route wildcards with valid names, so that
// a request passes validation and reaches the permission check.
var walkWildcards = map[string]string{
	"{key...}":        "k",
	"{group}":         "demo",
	"{group_version}": "v2",
	"{kind}":          "Artist",
	"{name}":          "korn",
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// fillPattern fills a route's wildcards: keys "k", resource type and name
// demo.v2.Artist "korn", ids "m9".
func fillPattern(path string) string {
	return wildcard.ReplaceAllStringFunc(path, func(w string) string {
		if v, ok := walkWildcards[w]; ok {
			return v
		}
		return "m9"
	})
}

// invokeEmpty calls a method with an empty message (any request type
// decodes from it).
func invokeEmpty(ctx context.Context, conn *grpc.ClientConn, full string, m grpc.MethodInfo) error {
	if !m.IsClientStream && !m.IsServerStream {
		return conn.Invoke(ctx, full, &emptypb.Empty{}, &emptypb.Empty{})
	}
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: m.IsServerStream, ClientStreams: m.IsClientStream}, full)
	if err != nil {
		return err
	}
	if err := st.SendMsg(&emptypb.Empty{}); err != nil {
		return st.RecvMsg(&emptypb.Empty{})
	}
	st.CloseSend()
	return st.RecvMsg(&emptypb.Empty{})
}

// etcdCalls makes one meaningful call of every etcd method; a watch the
// user may not read counts as refused with permission denied.
func etcdCalls(conn *grpc.ClientConn, lease int64) map[string]func(ctx context.Context) error {
	kvc, wc, lc := pb.NewKVClient(conn), pb.NewWatchClient(conn), pb.NewLeaseClient(conn)
	cc, mc, ac := pb.NewClusterClient(conn), pb.NewMaintenanceClient(conn), pb.NewAuthClient(conn)
	k := []byte("k")
	e := func(_ any, err error) error { return err }
	return map[string]func(ctx context.Context) error{
		"/etcdserverpb.KV/Range":       func(ctx context.Context) error { return e(kvc.Range(ctx, &pb.RangeRequest{Key: k})) },
		"/etcdserverpb.KV/Put":         func(ctx context.Context) error { return e(kvc.Put(ctx, &pb.PutRequest{Key: k})) },
		"/etcdserverpb.KV/DeleteRange": func(ctx context.Context) error { return e(kvc.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: k})) },
		"/etcdserverpb.KV/Txn": func(ctx context.Context) error {
			return e(kvc.Txn(ctx, &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: k}}}}}))
		},
		"/etcdserverpb.KV/Compact": func(ctx context.Context) error { return e(kvc.Compact(ctx, &pb.CompactionRequest{Revision: 1})) },
		"/etcdserverpb.Watch/Watch": func(ctx context.Context) error {
			st, err := wc.Watch(ctx)
			if err != nil {
				return err
			}
			defer st.CloseSend()
			if err := st.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: k}}}); err != nil {
				return err
			}
			resp, err := st.Recv()
			if err != nil {
				return err
			}
			if resp.Canceled && resp.CancelReason == rpctypes.ErrGRPCPermissionDenied.Error() {
				return rpctypes.ErrGRPCPermissionDenied
			}
			return nil
		},
		"/etcdserverpb.Lease/LeaseGrant":  func(ctx context.Context) error { return e(lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: 60})) },
		"/etcdserverpb.Lease/LeaseRevoke": func(ctx context.Context) error { return e(lc.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: lease})) },
		"/etcdserverpb.Lease/LeaseKeepAlive": func(ctx context.Context) error {
			st, err := lc.LeaseKeepAlive(ctx)
			if err != nil {
				return err
			}
			defer st.CloseSend()
			if err := st.Send(&pb.LeaseKeepAliveRequest{ID: lease}); err != nil {
				return err
			}
			return e(st.Recv())
		},
		"/etcdserverpb.Lease/LeaseTimeToLive": func(ctx context.Context) error {
			return e(lc.LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: lease, Keys: true}))
		},
		"/etcdserverpb.Lease/LeaseLeases": func(ctx context.Context) error { return e(lc.LeaseLeases(ctx, &pb.LeaseLeasesRequest{})) },
		"/etcdserverpb.Cluster/MemberAdd": func(ctx context.Context) error {
			return e(cc.MemberAdd(ctx, &pb.MemberAddRequest{PeerURLs: []string{"http://127.0.0.1:1"}}))
		},
		"/etcdserverpb.Cluster/MemberRemove":  func(ctx context.Context) error { return e(cc.MemberRemove(ctx, &pb.MemberRemoveRequest{ID: 1})) },
		"/etcdserverpb.Cluster/MemberUpdate":  func(ctx context.Context) error { return e(cc.MemberUpdate(ctx, &pb.MemberUpdateRequest{ID: 1})) },
		"/etcdserverpb.Cluster/MemberList":    func(ctx context.Context) error { return e(cc.MemberList(ctx, &pb.MemberListRequest{})) },
		"/etcdserverpb.Cluster/MemberPromote": func(ctx context.Context) error { return e(cc.MemberPromote(ctx, &pb.MemberPromoteRequest{ID: 1})) },
		"/etcdserverpb.Maintenance/Alarm":     func(ctx context.Context) error { return e(mc.Alarm(ctx, &pb.AlarmRequest{})) },
		"/etcdserverpb.Maintenance/Status":    func(ctx context.Context) error { return e(mc.Status(ctx, &pb.StatusRequest{})) },
		"/etcdserverpb.Maintenance/Defragment": func(ctx context.Context) error {
			return e(mc.Defragment(ctx, &pb.DefragmentRequest{}))
		},
		"/etcdserverpb.Maintenance/Hash":   func(ctx context.Context) error { return e(mc.Hash(ctx, &pb.HashRequest{})) },
		"/etcdserverpb.Maintenance/HashKV": func(ctx context.Context) error { return e(mc.HashKV(ctx, &pb.HashKVRequest{})) },
		"/etcdserverpb.Maintenance/Snapshot": func(ctx context.Context) error {
			st, err := mc.Snapshot(ctx, &pb.SnapshotRequest{})
			if err != nil {
				return err
			}
			return e(st.Recv())
		},
		"/etcdserverpb.Maintenance/MoveLeader": func(ctx context.Context) error { return e(mc.MoveLeader(ctx, &pb.MoveLeaderRequest{TargetID: 1})) },
		"/etcdserverpb.Maintenance/Downgrade":  func(ctx context.Context) error { return e(mc.Downgrade(ctx, &pb.DowngradeRequest{})) },
		"/etcdserverpb.Auth/Authenticate": func(ctx context.Context) error {
			return e(ac.Authenticate(ctx, &pb.AuthenticateRequest{Name: "nobody", Password: "nobodypw"}))
		},
		"/etcdserverpb.Auth/AuthEnable":  func(ctx context.Context) error { return e(ac.AuthEnable(ctx, &pb.AuthEnableRequest{})) },
		"/etcdserverpb.Auth/AuthDisable": func(ctx context.Context) error { return e(ac.AuthDisable(ctx, &pb.AuthDisableRequest{})) },
		"/etcdserverpb.Auth/AuthStatus":  func(ctx context.Context) error { return e(ac.AuthStatus(ctx, &pb.AuthStatusRequest{})) },
		"/etcdserverpb.Auth/UserAdd": func(ctx context.Context) error {
			return e(ac.UserAdd(ctx, &pb.AuthUserAddRequest{Name: "x", Password: "x"}))
		},
		"/etcdserverpb.Auth/UserGet":  func(ctx context.Context) error { return e(ac.UserGet(ctx, &pb.AuthUserGetRequest{Name: "root"})) },
		"/etcdserverpb.Auth/UserList": func(ctx context.Context) error { return e(ac.UserList(ctx, &pb.AuthUserListRequest{})) },
		"/etcdserverpb.Auth/UserDelete": func(ctx context.Context) error {
			return e(ac.UserDelete(ctx, &pb.AuthUserDeleteRequest{Name: "alice"}))
		},
		"/etcdserverpb.Auth/UserChangePassword": func(ctx context.Context) error {
			return e(ac.UserChangePassword(ctx, &pb.AuthUserChangePasswordRequest{Name: "nobody", Password: "y"}))
		},
		"/etcdserverpb.Auth/UserGrantRole": func(ctx context.Context) error {
			return e(ac.UserGrantRole(ctx, &pb.AuthUserGrantRoleRequest{User: "nobody", Role: "root"}))
		},
		"/etcdserverpb.Auth/UserRevokeRole": func(ctx context.Context) error {
			return e(ac.UserRevokeRole(ctx, &pb.AuthUserRevokeRoleRequest{Name: "alice", Role: "app"}))
		},
		"/etcdserverpb.Auth/RoleAdd":    func(ctx context.Context) error { return e(ac.RoleAdd(ctx, &pb.AuthRoleAddRequest{Name: "x"})) },
		"/etcdserverpb.Auth/RoleGet":    func(ctx context.Context) error { return e(ac.RoleGet(ctx, &pb.AuthRoleGetRequest{Role: "app"})) },
		"/etcdserverpb.Auth/RoleList":   func(ctx context.Context) error { return e(ac.RoleList(ctx, &pb.AuthRoleListRequest{})) },
		"/etcdserverpb.Auth/RoleDelete": func(ctx context.Context) error { return e(ac.RoleDelete(ctx, &pb.AuthRoleDeleteRequest{Role: "app"})) },
		"/etcdserverpb.Auth/RoleGrantPermission": func(ctx context.Context) error {
			return e(ac.RoleGrantPermission(ctx, &pb.AuthRoleGrantPermissionRequest{Name: "app", Perm: nil}))
		},
		"/etcdserverpb.Auth/RoleRevokePermission": func(ctx context.Context) error {
			return e(ac.RoleRevokePermission(ctx, &pb.AuthRoleRevokePermissionRequest{Role: "app", Key: []byte("app/")}))
		},
	}
}

// faceCalls makes one meaningful call of every method of the faces' gRPC
// services (the resource service), on a resource type, tenancy and name a
// user without roles may not touch.
var faceCalls = map[string]func(ctx context.Context, rc pbresource.ResourceServiceClient) error{
	"/hashicorp.consul.resource.ResourceService/Read": func(ctx context.Context, rc pbresource.ResourceServiceClient) error {
		_, err := rc.Read(ctx, &pbresource.ReadRequest{Id: walkID()})
		return err
	},
	"/hashicorp.consul.resource.ResourceService/Write": func(ctx context.Context, rc pbresource.ResourceServiceClient) error {
		_, err := rc.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: walkID()}})
		return err
	},
	"/hashicorp.consul.resource.ResourceService/WriteStatus": func(ctx context.Context, rc pbresource.ResourceServiceClient) error {
		id := walkID()
		id.Uid = walkUID
		_, err := rc.WriteStatus(ctx, &pbresource.WriteStatusRequest{Id: id, Version: "1", Key: "k", Status: &pbresource.Status{ObservedGeneration: walkUID}})
		return err
	},
	"/hashicorp.consul.resource.ResourceService/MutateAndValidate": func(ctx context.Context, rc pbresource.ResourceServiceClient) error {
		_, err := rc.MutateAndValidate(ctx, &pbresource.MutateAndValidateRequest{Resource: &pbresource.Resource{Id: walkID()}})
		return err
	},
	"/hashicorp.consul.resource.ResourceService/Delete": func(ctx context.Context, rc pbresource.ResourceServiceClient) error {
		_, err := rc.Delete(ctx, &pbresource.DeleteRequest{Id: walkID()})
		return err
	},
	"/hashicorp.consul.resource.ResourceService/List": func(ctx context.Context, rc pbresource.ResourceServiceClient) error {
		_, err := rc.List(ctx, &pbresource.ListRequest{Type: walkID().Type, Tenancy: walkID().Tenancy})
		return err
	},
	"/hashicorp.consul.resource.ResourceService/ListByOwner": func(ctx context.Context, rc pbresource.ResourceServiceClient) error {
		id := walkID()
		id.Uid = walkUID
		_, err := rc.ListByOwner(ctx, &pbresource.ListByOwnerRequest{Owner: id})
		return err
	},
	"/hashicorp.consul.resource.ResourceService/WatchList": func(ctx context.Context, rc pbresource.ResourceServiceClient) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		st, err := rc.WatchList(ctx, &pbresource.WatchListRequest{Type: walkID().Type, Tenancy: walkID().Tenancy})
		if err != nil {
			return err
		}
		_, err = st.Recv()
		return err
	},
}

const walkUID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"

func walkID() *pbresource.ID {
	return &pbresource.ID{
		Type:    &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"},
		Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "default"},
		Name:    "korn",
	}
}
