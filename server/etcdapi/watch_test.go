package etcdapi_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// evString renders an event for comparisons: type, key, value, revision.
func evString(ev *clientv3.Event) string {
	return fmt.Sprintf("%s %s=%s@%d", ev.Type, ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
}

// collect reads events from wch until n arrived, failing on an error,
// a closed channel or the deadline.
func collect(t testing.TB, wch clientv3.WatchChan, n int, d time.Duration) []*clientv3.Event {
	t.Helper()
	var evs []*clientv3.Event
	timeout := time.After(d)
	for len(evs) < n {
		select {
		case resp, ok := <-wch:
			if !ok {
				t.Fatalf("watch channel closed after %d of %d events", len(evs), n)
			}
			if err := resp.Err(); err != nil {
				t.Fatalf("watch error after %d events: %v", len(evs), err)
			}
			evs = append(evs, resp.Events...)
		case <-timeout:
			t.Fatalf("got %d of %d events in %s", len(evs), n, d)
		}
	}
	return evs
}

func testWatch(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	t.Run("from an old revision, then live, exactly once", func(t *testing.T) {
		var want []string
		var first int64
		for i := range 10 {
			k := fmt.Sprintf("watch/old/%d", i%4)
			r := mustPut(t, cli, k, fmt.Sprint(i)).Header.Revision
			if first == 0 {
				first = r
			}
			want = append(want, fmt.Sprintf("PUT %s=%d@%d", k, i, r))
		}
		dr, err := cli.Delete(testCtx(t, 20*time.Second), "watch/old/", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			want = append(want, fmt.Sprintf("DELETE watch/old/%d=@%d", i, dr.Header.Revision))
		}
		ctx, cancel := context.WithCancel(testCtx(t, 30*time.Second))
		defer cancel()
		wch := cli.Watch(ctx, "watch/old/", clientv3.WithPrefix(), clientv3.WithRev(first))
		// Live writes while the watcher replays history.
		for i := 10; i < 20; i++ {
			k := fmt.Sprintf("watch/old/%d", i%4)
			r := mustPut(t, cli, k, fmt.Sprint(i)).Header.Revision
			want = append(want, fmt.Sprintf("PUT %s=%d@%d", k, i, r))
		}
		evs := collect(t, wch, len(want), 20*time.Second)
		var got []string
		for _, ev := range evs {
			got = append(got, evString(ev))
		}
		if !eq(got, want) {
			t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// Nothing more was queued: the next event is the next write.
		r := mustPut(t, cli, "watch/old/end", "x").Header.Revision
		if ev := collect(t, wch, 1, 10*time.Second); evString(ev[0]) != fmt.Sprintf("PUT watch/old/end=x@%d", r) {
			t.Fatalf("event after the replay: %s", evString(ev[0]))
		}
	})

	t.Run("watchers catching up under concurrent writes", func(t *testing.T) {
		// Watchers start from an old revision while writers keep going, so
		// their catch-up from history races with live notifications: each
		// must still see every write exactly once, in order.
		ctx, cancel := context.WithCancel(testCtx(t, time.Minute))
		defer cancel()
		first := mustPut(t, cli, "watch/race/start", "x").Header.Revision
		const writers, perWriter, watchers = 4, 40, 12
		var wg sync.WaitGroup
		werrs := make(chan error, writers)
		for w := range writers {
			wcli := c.Client(w % c.Size())
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					if _, err := wcli.Put(ctx, fmt.Sprintf("watch/race/%d/%03d", w, i), "v"); err != nil {
						werrs <- err
						return
					}
				}
			}()
		}
		var chans []clientv3.WatchChan
		for i := range watchers {
			wc := c.Client(i % c.Size())
			time.Sleep(time.Duration(i) * 3 * time.Millisecond) // spread the starts over the writes
			chans = append(chans, wc.Watch(ctx, "watch/race/", clientv3.WithPrefix(), clientv3.WithRev(first)))
		}
		wg.Wait()
		close(werrs)
		for err := range werrs {
			t.Fatal(err)
		}
		final := mustGet(t, cli, "watch/race/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend))
		var want []string
		for _, kv := range final.Kvs {
			want = append(want, fmt.Sprintf("PUT %s=%s@%d", kv.Key, kv.Value, kv.ModRevision))
		}
		for i, wch := range chans {
			var got []string
			for _, ev := range collect(t, wch, len(want), 20*time.Second) {
				got = append(got, evString(ev))
			}
			if !eq(got, want) {
				t.Fatalf("watcher %d saw %d events for %d writes:\n%s", i, len(got), len(want), diff(got, want))
			}
		}
	})

	t.Run("key, range and created revision", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t, 30*time.Second))
		defer cancel()
		key := cli.Watch(ctx, "watch/r/b")
		rng := cli.Watch(ctx, "watch/r/b", clientv3.WithRange("watch/r/d"))
		// clientv3 returns from Watch once the server confirmed creation.
		for _, k := range []string{"watch/r/a", "watch/r/b", "watch/r/c", "watch/r/d", "watch/r/bb"} {
			mustPut(t, cli, k, "v")
		}
		if evs := collect(t, key, 1, 10*time.Second); string(evs[0].Kv.Key) != "watch/r/b" {
			t.Errorf("key watch got %s", evString(evs[0]))
		}
		var got []string
		for _, ev := range collect(t, rng, 3, 10*time.Second) {
			got = append(got, string(ev.Kv.Key))
		}
		if want := []string{"watch/r/b", "watch/r/c", "watch/r/bb"}; !eq(got, want) {
			t.Errorf("range watch got %q, want %q", got, want)
		}
	})

	t.Run("prev kv", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t, 30*time.Second))
		defer cancel()
		r0 := mustPut(t, cli, "watch/prev/k", "v0").Header.Revision
		wch := cli.Watch(ctx, "watch/prev/k", clientv3.WithPrevKV(), clientv3.WithRev(r0+1))
		mustPut(t, cli, "watch/prev/k", "v1")
		if _, err := cli.Delete(ctx, "watch/prev/k"); err != nil {
			t.Fatal(err)
		}
		mustPut(t, cli, "watch/prev/k", "v2")
		evs := collect(t, wch, 3, 10*time.Second)
		for i, want := range []struct {
			typ  mvccpb.Event_EventType
			prev string
			ver  int64
		}{{mvccpb.PUT, "v0", 1}, {mvccpb.DELETE, "v1", 2}, {mvccpb.PUT, "", 0}} {
			ev := evs[i]
			if ev.Type != want.typ {
				t.Errorf("event %d type %v, want %v", i, ev.Type, want.typ)
			}
			if want.prev == "" {
				if ev.PrevKv != nil {
					t.Errorf("event %d (re-create) has prev kv %+v", i, ev.PrevKv)
				}
				continue
			}
			if ev.PrevKv == nil || string(ev.PrevKv.Value) != want.prev || ev.PrevKv.Version != want.ver {
				t.Errorf("event %d prev kv %+v, want value %s version %d", i, ev.PrevKv, want.prev, want.ver)
			}
		}
		// Without prev_kv, none.
		w2 := cli.Watch(ctx, "watch/prev/k", clientv3.WithRev(r0+1))
		for _, ev := range collect(t, w2, 3, 10*time.Second) {
			if ev.PrevKv != nil {
				t.Errorf("prev kv without prev_kv: %s", evString(ev))
			}
		}
	})

	t.Run("filters", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t, 30*time.Second))
		defer cancel()
		noPut := cli.Watch(ctx, "watch/f/", clientv3.WithPrefix(), clientv3.WithFilterPut())
		noDel := cli.Watch(ctx, "watch/f/", clientv3.WithPrefix(), clientv3.WithFilterDelete())
		var puts, dels []string
		for i := range 3 {
			k := fmt.Sprintf("watch/f/%d", i)
			r := mustPut(t, cli, k, "v").Header.Revision
			puts = append(puts, fmt.Sprintf("PUT %s=v@%d", k, r))
			d, err := cli.Delete(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			dels = append(dels, fmt.Sprintf("DELETE %s=@%d", k, d.Header.Revision))
		}
		var got []string
		for _, ev := range collect(t, noPut, 3, 10*time.Second) {
			got = append(got, evString(ev))
		}
		if !eq(got, dels) {
			t.Errorf("no-put watch got %q, want %q", got, dels)
		}
		got = nil
		for _, ev := range collect(t, noDel, 3, 10*time.Second) {
			got = append(got, evString(ev))
		}
		if !eq(got, puts) {
			t.Errorf("no-delete watch got %q, want %q", got, puts)
		}
	})

	t.Run("progress request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t, 30*time.Second))
		defer cancel()
		wch := cli.Watch(ctx, "watch/progress/", clientv3.WithPrefix())
		// The write may go through another member than the watch stream's:
		// as Kubernetes does, request progress until the notified revision
		// reaches it. Notified revisions never go back.
		rev := mustPut(t, cli, "watch/other", "x").Header.Revision
		var last int64
		for last < rev {
			if err := cli.RequestProgress(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case resp := <-wch:
				if !resp.IsProgressNotify() || resp.Header.Revision < last || resp.Header.Revision == 0 {
					t.Fatalf("want a progress notification at a revision >= %d, got %+v", last, resp)
				}
				last = resp.Header.Revision
			case <-ctx.Done():
				t.Fatalf("no progress notification at revision %d (last %d)", rev, last)
			}
		}
	})

	t.Run("progress notify", func(t *testing.T) {
		// concord sends progress notifications every
		// etcdapi.ProgressNotifyInterval (10m, etcd's default), too long for
		// a test; changing that global under running members would race.
		// Check the flag is accepted and events flow to both kinds of
		// watcher.
		ctx, cancel := context.WithCancel(testCtx(t, 30*time.Second))
		defer cancel()
		wch := cli.Watch(ctx, "watch/pn", clientv3.WithProgressNotify())
		quiet := cli.Watch(ctx, "watch/pn")
		r := mustPut(t, cli, "watch/pn", "x").Header.Revision
		for _, ch := range []clientv3.WatchChan{wch, quiet} {
			if ev := collect(t, ch, 1, 10*time.Second); ev[0].Kv.ModRevision != r {
				t.Fatalf("event %s, want revision %d", evString(ev[0]), r)
			}
		}
	})

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t, 30*time.Second))
		wch := cli.Watch(ctx, "watch/cancel")
		mustPut(t, cli, "watch/cancel", "1")
		collect(t, wch, 1, 10*time.Second)
		cancel()
		waitUntil(t, 10*time.Second, "the watch channel to close", func() bool {
			select {
			case _, ok := <-wch:
				return !ok
			default:
				return false
			}
		})

		// Over the raw stream: the server confirms the cancel with the id.
		sctx, scancel := context.WithCancel(testCtx(t, 30*time.Second))
		defer scancel()
		stream, err := pb.NewWatchClient(cli.ActiveConnection()).Watch(sctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: []byte("watch/cancel")}}}); err != nil {
			t.Fatal(err)
		}
		created, err := stream.Recv()
		if err != nil || !created.Created || created.Canceled {
			t.Fatalf("create: %v %+v", err, created)
		}
		if err := stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: created.WatchId}}}); err != nil {
			t.Fatal(err)
		}
		canceled, err := stream.Recv()
		if err != nil || !canceled.Canceled || canceled.WatchId != created.WatchId {
			t.Fatalf("cancel: %v %+v", err, canceled)
		}
		// The canceled watcher gets nothing more: a second watcher created
		// after a write sees its event first on this stream.
		if err := stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: []byte("watch/cancel2")}}}); err != nil {
			t.Fatal(err)
		}
		c2, err := stream.Recv()
		if err != nil || !c2.Created || c2.WatchId == created.WatchId {
			t.Fatalf("second create: %v %+v", err, c2)
		}
		mustPut(t, cli, "watch/cancel", "2")
		r := mustPut(t, cli, "watch/cancel2", "x").Header.Revision
		next, err := stream.Recv()
		if err != nil || next.WatchId != c2.WatchId || len(next.Events) != 1 || next.Events[0].Kv.ModRevision != r {
			t.Fatalf("after cancel: %v %+v", err, next)
		}
	})

	t.Run("empty key", func(t *testing.T) {
		sctx, scancel := context.WithCancel(testCtx(t, 30*time.Second))
		defer scancel()
		stream, err := pb.NewWatchClient(cli.ActiveConnection()).Watch(sctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{}}}); err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		wantErr(t, rpctypes.Error(err), rpctypes.ErrEmptyKey)
	})
}

// TestWatchFailover: a watcher that starts at an old revision sees every
// event exactly once and in order while writes go on across a leader
// transfer, a leader crash, and a crash and restart of the member its
// stream is connected to (clientv3 reconnects elsewhere and resumes from
// the revision after the last one it received).
func TestWatchFailover(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	ctx := testCtx(t, 2*time.Minute)

	// Record which member each Watch stream is connected to.
	var mu sync.Mutex
	var streams []string
	record := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err == nil && method == "/etcdserverpb.Watch/Watch" {
			if p, ok := peer.FromContext(s.Context()); ok {
				mu.Lock()
				streams = append(streams, p.Addr.String())
				mu.Unlock()
			}
		}
		return s, err
	}
	wcli := c.ClientWith(clientv3.Config{DialOptions: []grpc.DialOption{grpc.WithChainStreamInterceptor(record)}})
	cli := c.Client()

	// Writes are create-only txns of unique keys, retried until they are
	// known to have happened: a retry after an ambiguous failure cannot
	// write twice, and at the end each key's mod revision is its event.
	var seq int
	write := func() error {
		k := fmt.Sprintf("fo/%05d", seq)
		seq++
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := cli.Txn(testCtx(t, 10*time.Second)).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, "v")).Commit()
			if err == nil {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("write %s failed for 30s: %w", k, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	mustWrite := func() {
		t.Helper()
		if err := write(); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		mustWrite()
	}
	first := mustGet(t, cli, "fo/00000").Kvs[0].ModRevision

	var (
		evMu sync.Mutex
		evs  []*clientv3.Event
		werr error
	)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wch := wcli.Watch(wctx, "fo/", clientv3.WithPrefix(), clientv3.WithRev(first))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for resp := range wch {
			evMu.Lock()
			if err := resp.Err(); err != nil && werr == nil {
				werr = err
			}
			evs = append(evs, resp.Events...)
			evMu.Unlock()
		}
	}()
	lastRev := func() int64 {
		evMu.Lock()
		defer evMu.Unlock()
		if len(evs) == 0 {
			return 0
		}
		return evs[len(evs)-1].Kv.ModRevision
	}
	// progress writes n keys and waits until the watcher got them.
	progress := func(what string, n int) {
		t.Helper()
		for range n {
			mustWrite()
		}
		rev := mustGet(t, cli, fmt.Sprintf("fo/%05d", seq-1)).Kvs[0].ModRevision
		waitUntil(t, 30*time.Second, "the watcher to catch up "+what, func() bool { return lastRev() >= rev })
	}
	progress("with history", 10)

	// 1. Leader transfer.
	l := c.Leader()
	moveLeader(t, c, (l+1)%3)
	progress("after the leader transfer", 10)

	// 2. Leader crash, with writes going on during the election.
	l = c.Leader()
	writing := make(chan error, 1)
	go func() {
		for range 10 {
			if err := write(); err != nil {
				writing <- err
				return
			}
		}
		writing <- nil
	}()
	c.Crash(l)
	if err := <-writing; err != nil {
		t.Fatalf("writes across the leader crash: %v", err)
	}
	progress("after the leader crash", 10)
	c.Restart(l)
	c.WaitReady()
	progress("after the crashed leader's restart", 5)

	// 3. Crash and restart the member the watch stream is connected to.
	mu.Lock()
	addr := streams[len(streams)-1]
	nStreams := len(streams)
	mu.Unlock()
	connected := -1
	for i := range c.Size() {
		if sameAddr(c.Endpoint(i), addr) {
			connected = i
		}
	}
	if connected < 0 {
		t.Fatalf("watch stream peer %s is no member (%v)", addr, c.Endpoints())
	}
	c.Crash(connected)
	progress("after its member crashed", 10)
	mu.Lock()
	if len(streams) == nStreams {
		t.Errorf("the watch did not reconnect after member %d crashed", connected)
	} else if sameAddr(streams[len(streams)-1], c.Endpoint(connected)) {
		t.Errorf("the watch reconnected to the crashed member")
	}
	mu.Unlock()
	c.Restart(connected)
	c.WaitReady()
	progress("after its member restarted", 10)

	// Every write, exactly once, in revision order.
	final := mustGet(t, cli, "fo/", clientv3.WithPrefix())
	if len(final.Kvs) != seq {
		t.Fatalf("%d keys written, %d found", seq, len(final.Kvs))
	}
	var want []string
	kvs := final.Kvs
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].ModRevision < kvs[j].ModRevision })
	for _, kv := range kvs {
		want = append(want, fmt.Sprintf("PUT %s=v@%d", kv.Key, kv.ModRevision))
	}
	waitUntil(t, 30*time.Second, "the last event", func() bool { return lastRev() >= kvs[len(kvs)-1].ModRevision })
	wcancel()
	<-done
	if werr != nil {
		t.Fatalf("watch error: %v", werr)
	}
	var got []string
	prev := int64(0)
	for _, ev := range evs {
		if ev.Kv.ModRevision <= prev {
			t.Errorf("revision %d after %d", ev.Kv.ModRevision, prev)
		}
		prev = ev.Kv.ModRevision
		got = append(got, evString(ev))
	}
	if !eq(got, want) {
		t.Fatalf("watch saw %d events, %d writes:\n%s", len(got), len(want), diff(got, want))
	}
	mu.Lock()
	t.Logf("%d writes, watch streams: %v", seq, streams)
	mu.Unlock()
}

func sameAddr(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	return pa == pb && (ha == hb || ha == "" || hb == "" || (net.ParseIP(ha).IsLoopback() && net.ParseIP(hb).IsLoopback()))
}

// diff lists the first differences between two event lists.
func diff(got, want []string) string {
	var b strings.Builder
	gs, ws := map[string]int{}, map[string]int{}
	for _, g := range got {
		gs[g]++
	}
	for _, w := range want {
		ws[w]++
	}
	n := 0
	for _, w := range want {
		if gs[w] == 0 && n < 20 {
			fmt.Fprintf(&b, "missing: %s\n", w)
			n++
		}
	}
	for g, k := range gs {
		if k > 1 && n < 40 {
			fmt.Fprintf(&b, "%d times: %s\n", k, g)
			n++
		}
		if ws[g] == 0 && n < 40 {
			fmt.Fprintf(&b, "unexpected: %s\n", g)
			n++
		}
	}
	if n == 0 {
		b.WriteString("same events, different order")
	}
	return b.String()
}
