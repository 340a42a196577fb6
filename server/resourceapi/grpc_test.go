package resourceapi_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/server/resourceapi"
)

const testMaxBytes = 16 << 10

// startCluster starts three members with a small resource size cap.
func startCluster(t *testing.T) *agenttest.Cluster {
	return agenttest.Start(t, 3, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.Resource.MaxResourceBytes = testMaxBytes
	}})
}

func artist(name string) *pbresource.ID {
	return &pbresource.ID{Type: &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"},
		Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "default"}, Name: name}
}

func strData(s string) *anypb.Any {
	a, _ := anypb.New(wrapperspb.String(s))
	return a
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s: got %v (%v), want %v", what, got, err, want)
	}
}

func strongCtx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, resourceapi.ConsistencyModeKey, "consistent")
}

// TestConsulConventions checks what Consul's own clients rely on, with
// proto-public's client and no concord metadata: writes without a version
// upsert, uids are filled in, and the status codes are Consul's.
func TestConsulConventions(t *testing.T) {
	c := startCluster(t)
	leader := c.Leader()
	f1, f2 := (leader+1)%3, (leader+2)%3
	w, r := dialMember(t, c.Endpoint(f1)), dialMember(t, c.Endpoint(f2))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Create without a version: the uid is filled in.
	v1, err := w.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: artist("korn"), Data: strData("a")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(v1.Resource.Id.Uid) != 26 || v1.Resource.Version == "" || v1.Resource.Generation == "" {
		t.Fatalf("created %v", v1.Resource)
	}
	// A strong read on another follower sees it at once.
	got, err := r.Read(strongCtx(ctx), &pbresource.ReadRequest{Id: artist("korn")})
	if err != nil || got.Resource.Version != v1.Resource.Version {
		t.Fatalf("strong read on another follower: %v, %v", got, err)
	}
	// Without a version a write updates whatever is stored.
	v2, err := w.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: artist("korn"), Data: strData("b")}})
	if err != nil || v2.Resource.Id.Uid != v1.Resource.Id.Uid || v2.Resource.Version == v1.Resource.Version {
		t.Fatalf("unconditional update: %v, %v", v2, err)
	}
	// A stale version is Aborted, another uid FailedPrecondition.
	stale := &pbresource.Resource{Id: artist("korn"), Data: strData("c"), Version: v1.Resource.Version}
	_, err = r.Write(ctx, &pbresource.WriteRequest{Resource: stale})
	wantCode(t, "write with a stale version", err, codes.Aborted)
	other := &pbresource.Resource{Id: artist("korn"), Data: strData("c")}
	other.Id.Uid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	_, err = w.Write(ctx, &pbresource.WriteRequest{Resource: other})
	wantCode(t, "write naming another uid", err, codes.FailedPrecondition)
	// The current version works.
	cur := &pbresource.Resource{Id: artist("korn"), Data: strData("d"), Version: v2.Resource.Version}
	if _, err := r.Write(ctx, &pbresource.WriteRequest{Resource: cur}); err != nil {
		t.Fatalf("write with the current version: %v", err)
	}

	_, err = r.Read(ctx, &pbresource.ReadRequest{Id: artist("nobody")})
	wantCode(t, "read of a missing resource", err, codes.NotFound)
	v2id := artist("korn")
	v2id.Type.GroupVersion = "v1"
	_, err = r.Read(strongCtx(ctx), &pbresource.ReadRequest{Id: v2id})
	wantCode(t, "read with another group version", err, codes.InvalidArgument)

	// MutateAndValidate answers without writing.
	mv, err := w.MutateAndValidate(ctx, &pbresource.MutateAndValidateRequest{Resource: &pbresource.Resource{Id: artist("ghost"), Data: strData("x")}})
	if err != nil || mv.Resource.Id.Name != "ghost" {
		t.Fatalf("MutateAndValidate: %v, %v", mv, err)
	}
	_, err = r.Read(strongCtx(ctx), &pbresource.ReadRequest{Id: artist("ghost")})
	wantCode(t, "read after MutateAndValidate", err, codes.NotFound)

	// Delete without a version deletes; deleting again succeeds.
	for i := range 2 {
		if _, err := w.Delete(ctx, &pbresource.DeleteRequest{Id: artist("korn")}); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	_, err = r.Read(strongCtx(ctx), &pbresource.ReadRequest{Id: artist("korn")})
	wantCode(t, "read after delete", err, codes.NotFound)
	// A CAS delete with a stale version is Aborted.
	v3, err := w.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: artist("korn"), Data: strData("e")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Delete(ctx, &pbresource.DeleteRequest{Id: artist("korn"), Version: v1.Resource.Version})
	wantCode(t, "delete with a stale version", err, codes.Aborted)
	if v3.Resource.Id.Uid == v1.Resource.Id.Uid {
		t.Fatal("a re-created resource kept its old uid")
	}
}

// TestBadInputWritesNothing sends what Consul's service refuses: each is
// InvalidArgument naming the field, and a strong list afterwards is empty.
func TestBadInputWritesNothing(t *testing.T) {
	c := startCluster(t)
	cl := dialMember(t, c.Endpoint(c.Follower()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mk := func(edit func(*pbresource.Resource)) *pbresource.Resource {
		res := &pbresource.Resource{Id: artist("bad"), Data: strData("x")}
		edit(res)
		return res
	}
	cases := map[string]struct {
		res   *pbresource.Resource
		field string
	}{
		"no resource":        {nil, "resource"},
		"no id":              {mk(func(r *pbresource.Resource) { r.Id = nil }), "resource.id"},
		"no type":            {mk(func(r *pbresource.Resource) { r.Id.Type = nil }), "resource.id.type"},
		"bad group":          {mk(func(r *pbresource.Resource) { r.Id.Type.Group = "De mo" }), "resource.id.type.group"},
		"bad kind":           {mk(func(r *pbresource.Resource) { r.Id.Type.Kind = "artist" }), "resource.id.type.kind"},
		"upper case name":    {mk(func(r *pbresource.Resource) { r.Id.Name = "Bad" }), "resource.id.name"},
		"long name":          {mk(func(r *pbresource.Resource) { r.Id.Name = strings.Repeat("b", 64) }), "resource.id.name"},
		"bad partition":      {mk(func(r *pbresource.Resource) { r.Id.Tenancy.Partition = "a_b" }), "resource.id.tenancy.partition"},
		"wildcard namespace": {mk(func(r *pbresource.Resource) { r.Id.Tenancy.Namespace = "*" }), "resource.id.tenancy.namespace"},
		"owner without uid":  {mk(func(r *pbresource.Resource) { r.Owner = artist("parent") }), "resource.owner.uid"},
		"owner with bad name": {mk(func(r *pbresource.Resource) {
			r.Owner = artist("Parent")
			r.Owner.Uid = "u"
		}), "resource.owner.name"},
		"Any without type":   {mk(func(r *pbresource.Resource) { r.Data = &anypb.Any{Value: []byte("x")} }), "resource.data.type_url"},
		"Any with bad type":  {mk(func(r *pbresource.Resource) { r.Data.TypeUrl = "not a type" }), "resource.data.type_url"},
		"Any with bad bytes": {mk(func(r *pbresource.Resource) { r.Data.Value = []byte{0xff, 0xff} }), "resource.data.value"},
		"oversized":          {mk(func(r *pbresource.Resource) { r.Data = strData(strings.Repeat("x", testMaxBytes)) }), ""},
		"oversized metadata": {mk(func(r *pbresource.Resource) { r.Metadata = map[string]string{"k": strings.Repeat("x", testMaxBytes)} }), ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := cl.Write(ctx, &pbresource.WriteRequest{Resource: tc.res})
			wantCode(t, "write", err, codes.InvalidArgument)
			if tc.field != "" && !strings.Contains(status.Convert(err).Message(), tc.field) {
				t.Fatalf("error %q does not name %s", status.Convert(err).Message(), tc.field)
			}
			_, err = cl.MutateAndValidate(ctx, &pbresource.MutateAndValidateRequest{Resource: tc.res})
			wantCode(t, "MutateAndValidate", err, codes.InvalidArgument)
		})
	}
	for name, id := range map[string]*pbresource.ID{"read without type": {Name: "x"}, "read with bad name": artist("-x")} {
		_, err := cl.Read(ctx, &pbresource.ReadRequest{Id: id})
		wantCode(t, name, err, codes.InvalidArgument)
	}
	_, err := cl.ListByOwner(ctx, &pbresource.ListByOwnerRequest{Owner: artist("parent")})
	wantCode(t, "ListByOwner without uid", err, codes.InvalidArgument)
	_, err = cl.WriteStatus(ctx, &pbresource.WriteStatusRequest{Id: artist("bad"), Key: "k", Status: &pbresource.Status{ObservedGeneration: "g"}})
	wantCode(t, "WriteStatus without uid", err, codes.InvalidArgument)

	list, err := cl.List(strongCtx(ctx), &pbresource.ListRequest{Type: artist("x").Type, Tenancy: &pbresource.Tenancy{Partition: "*", Namespace: "*"}})
	if err != nil || len(list.Resources) != 0 {
		t.Fatalf("after bad writes the type holds %v (%v)", list.GetResources(), err)
	}
}

// TestWatchListConsulClient watches with proto-public's client as Consul's
// controllers do, and resumes from the version concord puts on events.
func TestWatchListConsulClient(t *testing.T) {
	c := startCluster(t)
	cl := dialMember(t, c.Endpoint(c.Follower()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cl.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: artist("a"), Data: strData("a")}}); err != nil {
		t.Fatal(err)
	}
	req := &pbresource.WatchListRequest{Type: &pbresource.Type{Group: "demo", Kind: "Artist"}, Tenancy: &pbresource.Tenancy{Partition: "*", Namespace: "*"}}
	wctx, wcancel := context.WithCancel(strongCtx(ctx))
	stream, err := cl.WatchList(wctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := stream.Recv()
	if err != nil || ev.GetUpsert().GetResource().GetId().GetName() != "a" {
		t.Fatalf("first event %v, %v", ev, err)
	}
	if ev, err = stream.Recv(); err != nil || ev.GetEndOfSnapshot() == nil {
		t.Fatalf("second event %v, %v", ev, err)
	}
	snapAt, ok := resourceapi.EventVersion(ev)
	if !ok || snapAt == 0 {
		t.Fatalf("end_of_snapshot carries no version: %v", ev)
	}
	b, err := cl.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: artist("b"), Data: strData("b")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Delete(ctx, &pbresource.DeleteRequest{Id: artist("a")}); err != nil {
		t.Fatal(err)
	}
	up, err := stream.Recv()
	if err != nil || up.GetUpsert().GetResource().GetVersion() != b.Resource.Version {
		t.Fatalf("upsert event %v, %v", up, err)
	}
	del, err := stream.Recv()
	if err != nil || del.GetDelete().GetResource().GetId().GetName() != "a" {
		t.Fatalf("delete event %v, %v", del, err)
	}
	delAt, _ := resourceapi.EventVersion(del)
	wcancel()

	// Resume after the snapshot on the leader: the same two events, no
	// snapshot.
	rctx := metadata.AppendToOutgoingContext(ctx, resourceapi.FromVersionKey, strconv.FormatUint(snapAt, 10))
	resumed, err := dialMember(t, c.Endpoint(c.Leader())).WatchList(rctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*pbresource.WatchEvent{up, del} {
		got, err := resumed.Recv()
		gv, _ := resourceapi.EventVersion(got)
		wv, _ := resourceapi.EventVersion(want)
		if err != nil || gv != wv || (got.GetUpsert() == nil) != (want.GetUpsert() == nil) {
			t.Fatalf("resumed: got %v (%v), want %v", got, err, want)
		}
	}
	if delAt <= snapAt {
		t.Fatalf("delete at %d, snapshot at %d", delAt, snapAt)
	}
	// A version not a number is refused.
	bad := metadata.AppendToOutgoingContext(ctx, resourceapi.FromVersionKey, "soon")
	s2, err := cl.WatchList(bad, req)
	if err == nil {
		_, err = s2.Recv()
	}
	wantCode(t, "watch from a bad version", err, codes.InvalidArgument)
}
