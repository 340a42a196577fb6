package etcdapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/server/etcdapi"
	"github.com/hashicorp/consul/proto-public/pbresource"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// startWithLimits starts a one-member cluster with limits.
func startWithLimits(t *testing.T, l etcdapi.Limits) *agenttest.Cluster {
	return agenttest.Start(t, 1, agenttest.Options{Configure: func(_ int, cfg *agent.Config) { cfg.Limits = l }})
}

// rawConn is a gRPC connection of its own to member 0, so that
// per-connection limits are tested on connections the test controls.
func rawConn(t *testing.T, c *agenttest.Cluster, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(c.Endpoint(0), append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func wantCode(t *testing.T, err error, code codes.Code, text string) {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code() != code || !strings.Contains(st.Message(), text) {
		t.Fatalf("error %v, want code %s with %q", err, code, text)
	}
}

// TestMaxRangeBytes: a range (gRPC, read-only or writing txn, REST) whose key-values
// pass MaxRangeBytes fails with a clear error, and refusing it does not
// cost the member memory in proportion to the range.
func TestMaxRangeBytes(t *testing.T) {
	const valueBytes, keys, limit = 16 << 10, 256, 256 << 10 // 4 MiB of values, 256 KiB cap
	c := startWithLimits(t, etcdapi.Limits{MaxRequestBytes: 64 << 10, MaxRangeBytes: limit})
	cli := c.Client()
	value := strings.Repeat("v", valueBytes)
	for i := range keys {
		mustPut(t, cli, fmt.Sprintf("big/%04d", i), value)
	}
	ctx := testCtx(t, time.Minute)

	_, err := cli.Get(ctx, "big/", clientv3.WithPrefix())
	wantCode(t, err, codes.ResourceExhausted, "etcdserver: range response too large: more than 262144 bytes")
	// What fits passes: a limit, keys only, a count.
	if r, err := cli.Get(ctx, "big/", clientv3.WithPrefix(), clientv3.WithLimit(8)); err != nil || len(r.Kvs) != 8 || !r.More || r.Count != keys {
		t.Fatalf("limit 8: %v, %v", r, err)
	}
	if r, err := cli.Get(ctx, "big/", clientv3.WithPrefix(), clientv3.WithKeysOnly()); err != nil || len(r.Kvs) != keys {
		t.Fatalf("keys only: %v", err)
	}
	if r, err := cli.Get(ctx, "big/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend), clientv3.WithLimit(4)); err != nil || len(r.Kvs) != 4 {
		t.Fatalf("sorted, limit 4: %v", err)
	}
	_, err = cli.Get(ctx, "big/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend))
	wantCode(t, err, codes.ResourceExhausted, "range response too large")
	// A read-only txn is capped on all its ranges together: two of 10
	// keys (160 KiB each) pass one by one, not together.
	half := func(from string) clientv3.Op {
		return clientv3.OpGet("big/"+from, clientv3.WithRange("big/"+fmt.Sprintf("%04d", mustAtoi(from)+10)))
	}
	if _, err := cli.Txn(ctx).Then(half("0000")).Commit(); err != nil {
		t.Fatalf("txn of one 160 KiB range: %v", err)
	}
	_, err = cli.Txn(ctx).Then(half("0000"), half("0100")).Commit()
	wantCode(t, err, codes.ResourceExhausted, "range response too large")
	// So is a writing txn, before it is proposed (its ranges are read in
	// apply on every member): refused, and its put not made.
	_, err = cli.Txn(ctx).Then(clientv3.OpPut("written", "x"), clientv3.OpGet("big/", clientv3.WithPrefix())).Commit()
	wantCode(t, err, codes.ResourceExhausted, "range response too large")
	if r, err := cli.Get(ctx, "written"); err != nil || len(r.Kvs) != 0 {
		t.Fatalf("the refused txn's put: %v, %v", r, err)
	}
	if _, err := cli.Txn(ctx).Then(clientv3.OpPut("written", "x"), half("0000")).Commit(); err != nil {
		t.Fatalf("writing txn with one 160 KiB range: %v", err)
	}

	// REST: 400 with the same message and code range_too_large.
	resp, err := http.Get("http://" + c.Endpoint(0) + "/v1/kv/big/?prefix")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct{ Code, Error string }
	_ = json.Unmarshal(body, &e)
	if resp.StatusCode != http.StatusBadRequest || e.Code != "range_too_large" || !strings.Contains(e.Error, "more than 262144 bytes") {
		t.Fatalf("REST range: %d %s", resp.StatusCode, body)
	}

	// Memory: a refused 4 MiB range allocates (client and member, one
	// process) far less than the range; generous bound.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 4 {
		if _, err := cli.Get(ctx, "big/", clientv3.WithPrefix()); err == nil {
			t.Fatal("range over the cap passed")
		}
	}
	runtime.ReadMemStats(&after)
	if perRange := (after.TotalAlloc - before.TotalAlloc) / 4; perRange > keys*valueBytes/4 {
		t.Fatalf("a refused range allocated %d bytes, more than a quarter of its %d bytes", perRange, keys*valueBytes)
	} else {
		t.Logf("a refused range of %d bytes allocated %d bytes", keys*valueBytes, perRange)
	}
}

// TestMaxRangeBytesResourceList: a resource List (gRPC and REST) whose
// resources pass MaxRangeBytes fails with list_too_large, before copying.
func TestMaxRangeBytesResourceList(t *testing.T) {
	c := startWithLimits(t, etcdapi.Limits{MaxRequestBytes: 64 << 10, MaxRangeBytes: 256 << 10})
	ctx := testCtx(t, time.Minute)
	rc := pbresource.NewResourceServiceClient(rawConn(t, c))
	artist := &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"}
	ten := &pbresource.Tenancy{Partition: "default", Namespace: "default"}
	pad := strings.Repeat("p", 16<<10)
	for i := range 32 { // 512 KiB
		id := &pbresource.ID{Type: artist, Tenancy: ten, Name: fmt.Sprintf("big-%02d", i)}
		if _, err := rc.Write(ctx, &pbresource.WriteRequest{Resource: &pbresource.Resource{Id: id, Metadata: map[string]string{"pad": pad}}}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	_, err := rc.List(ctx, &pbresource.ListRequest{Type: artist, Tenancy: ten})
	wantCode(t, err, codes.ResourceExhausted, "more than 262144 bytes of resources")
	if r, err := rc.List(ctx, &pbresource.ListRequest{Type: artist, Tenancy: ten, NamePrefix: "big-0"}); err != nil || len(r.Resources) != 10 {
		t.Fatalf("list of 10 (160 KiB): %v", err)
	}
	resp, err := http.Get("http://" + c.Endpoint(0) + "/v1/resource/demo/v2/Artist?partition=default&namespace=default")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "list_too_large") {
		t.Fatalf("REST list: %d %s", resp.StatusCode, body)
	}
}

func mustAtoi(s string) int {
	var n int
	fmt.Sscanf(s, "%d", &n)
	return n
}

// TestMaxConcurrentStreams: a connection at the cap has its next stream
// queued by the client until one ends.
func TestMaxConcurrentStreams(t *testing.T) {
	c := startWithLimits(t, etcdapi.Limits{MaxConcurrentStreams: 2})
	conn := rawConn(t, c)
	wc := pb.NewWatchClient(conn)
	ctx := testCtx(t, time.Minute)
	open := func(ctx context.Context) (pb.Watch_WatchClient, error) {
		s, err := wc.Watch(ctx)
		if err != nil {
			return nil, err
		}
		k, e := prefixOf("cs/")
		if err := s.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: k, RangeEnd: e}}}); err != nil {
			return nil, err
		}
		if r, err := s.Recv(); err != nil || !r.Created {
			return nil, fmt.Errorf("create: %v %v", r, err)
		}
		return s, nil
	}
	ctx1, cancel1 := context.WithCancel(ctx)
	if _, err := open(ctx1); err != nil {
		t.Fatal(err)
	}
	if _, err := open(ctx); err != nil {
		t.Fatal(err)
	}
	// The third waits for a stream to end: here past its deadline.
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err := open(short)
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("third stream on a connection capped at 2: %v, want it queued until its deadline", err)
	}
	// Another connection is not affected.
	if _, err := pb.NewKVClient(rawConn(t, c)).Range(ctx, &pb.RangeRequest{Key: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	cancel1() // the first stream ends: the next one gets its place
	if _, err := open(ctx); err != nil {
		t.Fatalf("after a stream ended: %v", err)
	}
}

// TestMaxWatchesPerConnection: watches are counted over all the streams of
// a connection; a create past the cap is refused created-and-canceled,
// and cancelled or ended watches give their place back.
func TestMaxWatchesPerConnection(t *testing.T) {
	c := startWithLimits(t, etcdapi.Limits{MaxWatchesPerConnection: 3})
	ctx := testCtx(t, time.Minute)
	conn := rawConn(t, c)
	k, e := prefixOf("wc/")
	create := func(s pb.Watch_WatchClient) *pb.WatchResponse {
		t.Helper()
		if err := s.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: k, RangeEnd: e}}}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Recv()
		if err != nil || !r.Created {
			t.Fatalf("create: %v %v", r, err)
		}
		return r
	}
	refused := func(r *pb.WatchResponse) bool {
		return r.Canceled && strings.Contains(r.CancelReason, "too many watches on this connection (--max-watches-per-connection 3)")
	}
	ctxA, cancelA := context.WithCancel(ctx)
	a, err := pb.NewWatchClient(conn).Watch(ctxA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pb.NewWatchClient(conn).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*pb.WatchResponse{create(a), create(a), create(b)} {
		if r.Canceled {
			t.Fatalf("watch under the cap refused: %v", r)
		}
	}
	if r := create(b); !refused(r) {
		t.Fatalf("fourth watch on the connection: %v, want refused", r)
	}
	// Another connection has its own count.
	other, err := pb.NewWatchClient(rawConn(t, c)).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := create(other); r.Canceled {
			t.Fatalf("other connection: %v", r)
		}
	}
	// A cancel gives the place back.
	if err := a.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: 0}}}); err != nil {
		t.Fatal(err)
	}
	if r, err := a.Recv(); err != nil || !r.Canceled {
		t.Fatalf("cancel: %v %v", r, err)
	}
	if r := create(b); r.Canceled {
		t.Fatalf("after a cancel: %v", r)
	}
	if r := create(b); !refused(r) {
		t.Fatalf("at the cap again: %v", r)
	}
	// The end of a stream gives its watches back (once the server has
	// seen it end).
	cancelA()
	waitUntil(t, 30*time.Second, "stream a's watch to be released", func() bool { return !create(b).Canceled })

	// Resource watches count against the same cap: a connection with
	// two etcd watches has room for one WatchList.
	rconn := rawConn(t, c)
	two, err := pb.NewWatchClient(rconn).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	create(two)
	create(two)
	rc := pbresource.NewResourceServiceClient(rconn)
	watchList := func() error {
		st, err := rc.WatchList(ctx, &pbresource.WatchListRequest{Type: &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"},
			Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "default"}})
		if err != nil {
			return err
		}
		_, err = st.Header() // sent once the watch is established
		if err == nil {
			_, err = st.Recv() // the snapshot's end, or the refusal
		}
		return err
	}
	if err := watchList(); err != nil {
		t.Fatalf("resource watch under the cap: %v", err)
	}
	wantCode(t, watchList(), codes.ResourceExhausted, "too many watches on this connection (--max-watches-per-connection 3)")
}

// TestSlowWatchClientDropped: a watch stream whose client stops reading is
// dropped after ClientSendTimeout, its watch released, while a watcher on
// another connection keeps receiving every event; the dropped client,
// reading again, gets what was sent, then the reason.
func TestSlowWatchClientDropped(t *testing.T) {
	c := startWithLimits(t, etcdapi.Limits{ClientSendTimeout: time.Second, MaxWatchesPerConnection: 1})
	ctx := testCtx(t, 2*time.Minute)
	// Fixed 64 KiB windows: the server can send little before the client
	// reads (grpc-go otherwise grows them).
	conn := rawConn(t, c, grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
	k, e := prefixOf("slow/")
	createReq := &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: k, RangeEnd: e}}}
	slow, err := pb.NewWatchClient(conn).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := slow.Send(createReq); err != nil {
		t.Fatal(err)
	}
	if r, err := slow.Recv(); err != nil || !r.Created || r.Canceled {
		t.Fatalf("create: %v %v", r, err)
	}
	other := c.Client().Watch(ctx, "slow/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	if r := <-other; !r.Created {
		t.Fatalf("other watcher: %+v", r)
	}
	// 1 MiB of events, far more than the slow stream's window.
	cli := c.Client()
	value := strings.Repeat("v", 16<<10)
	const puts = 64
	for i := range puts {
		mustPut(t, cli, fmt.Sprintf("slow/%d", i), value)
	}
	for got := 0; got < puts; {
		select {
		case r := <-other:
			if r.Err() != nil {
				t.Fatalf("other watcher: %v", r.Err())
			}
			got += len(r.Events)
		case <-ctx.Done():
			t.Fatalf("other watcher got %d of %d events", got, puts)
		}
	}
	// The slow stream's watch is released: with a cap of one watch per
	// connection, a new stream of its connection can watch again.
	waitUntil(t, 30*time.Second, "the slow stream to be dropped", func() bool {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		probe, err := pb.NewWatchClient(conn).Watch(pctx)
		if err != nil {
			return false
		}
		if probe.Send(createReq) != nil {
			return false
		}
		r, err := probe.Recv()
		return err == nil && r.Created && !r.Canceled
	})
	// Reading again, the slow client gets what was in flight, then why.
	for {
		_, err := slow.Recv()
		if err != nil {
			wantCode(t, err, codes.ResourceExhausted, "slow client")
			break
		}
	}
}
