package etcdapi_test

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestWatchStreams checks the properties of one Watch stream carrying many
// watchers, over real gRPC connections to a one-member cluster.
func TestWatchStreams(t *testing.T) {
	c := agenttest.Start(t, 1, agenttest.Options{})
	t.Run("many watchers on one stream: every event once, in order", func(t *testing.T) { testStreamManyWatchers(t, c) })
	t.Run("a stream that is not read delays neither writes nor other streams", func(t *testing.T) { testStreamBlocked(t, c) })
	t.Run("cancel while events are queued", func(t *testing.T) { testStreamCancelQueued(t, c) })
}

// rawStream is a Watch stream driven by hand, as clientv3 would.
type rawStream struct {
	t *testing.T
	s pb.Watch_WatchClient
}

func openStream(t *testing.T, ctx context.Context, cli *clientv3.Client) *rawStream {
	t.Helper()
	s, err := pb.NewWatchClient(cli.ActiveConnection()).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &rawStream{t, s}
}

func (r *rawStream) create(cr *pb.WatchCreateRequest) {
	r.t.Helper()
	if err := r.s.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: cr}}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawStream) cancel(id int64) {
	r.t.Helper()
	if err := r.s.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: id}}}); err != nil {
		r.t.Fatal(err)
	}
}

func prefixOf(p string) (key, end []byte) {
	return []byte(p), []byte(clientv3.GetPrefixRangeEnd(p))
}

// op is one write as its response reported it.
type op struct {
	rev   int64
	sub   int // order within the revision
	del   bool
	key   string
	value string
}

// wantEvents is what a watcher with request cr, created at revision
// created, must see of ops (sorted by revision): the oracle.
func wantEvents(ops []op, cr *pb.WatchCreateRequest, created int64) []string {
	last := map[string]string{} // live values, for prev_kv
	var out []string
	for _, o := range ops {
		prev, had := last[o.key]
		if o.del {
			delete(last, o.key)
		} else {
			last[o.key] = o.value
		}
		in := o.key >= string(cr.Key) && (len(cr.RangeEnd) == 0 && o.key == string(cr.Key) || len(cr.RangeEnd) > 0 && o.key < string(cr.RangeEnd))
		from := created + 1
		if cr.StartRevision > 0 {
			from = cr.StartRevision
		}
		if !in || o.rev < from || filteredOut(cr, o.del) {
			continue
		}
		s := fmt.Sprintf("PUT %s=%s@%d", o.key, o.value, o.rev)
		if o.del {
			s = fmt.Sprintf("DELETE %s@%d", o.key, o.rev)
		}
		if cr.PrevKv && had {
			s += "(prev " + prev + ")"
		}
		out = append(out, s)
	}
	return out
}

func filteredOut(cr *pb.WatchCreateRequest, del bool) bool {
	for _, f := range cr.Filters {
		if (f == pb.WatchCreateRequest_NOPUT && !del) || (f == pb.WatchCreateRequest_NODELETE && del) {
			return true
		}
	}
	return false
}

// streamLog is what one stream delivered, per watch id.
type streamLog struct {
	mu       sync.Mutex
	created  map[int64]int64 // revision of the created response
	events   map[int64][]string
	lastRev  map[int64]int64
	canceled map[int64]bool
	errs     []string
}

func newStreamLog() *streamLog {
	return &streamLog{created: map[int64]int64{}, events: map[int64][]string{}, lastRev: map[int64]int64{}, canceled: map[int64]bool{}}
}

// read records the stream's responses until it fails.
func (l *streamLog) read(s pb.Watch_WatchClient) {
	for {
		resp, err := s.Recv()
		if err != nil {
			return
		}
		l.add(resp)
	}
}

func (l *streamLog) add(resp *pb.WatchResponse) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := resp.WatchId
	_, seen := l.created[id]
	switch {
	case resp.Created:
		if seen {
			l.errs = append(l.errs, fmt.Sprintf("watch %d created twice", id))
		}
		l.created[id] = resp.Header.Revision
		return
	case !seen:
		l.errs = append(l.errs, fmt.Sprintf("watch %d: response before its created response", id))
	case l.canceled[id]:
		l.errs = append(l.errs, fmt.Sprintf("watch %d: response after its cancel", id))
	}
	if resp.Canceled {
		l.canceled[id] = true
	}
	for _, ev := range resp.Events {
		s := fmt.Sprintf("PUT %s=%s@%d", ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
		if ev.Type == clientv3.EventTypeDelete {
			s = fmt.Sprintf("DELETE %s@%d", ev.Kv.Key, ev.Kv.ModRevision)
		}
		if ev.PrevKv != nil {
			s += "(prev " + string(ev.PrevKv.Value) + ")"
		}
		l.events[id] = append(l.events[id], s)
		l.lastRev[id] = ev.Kv.ModRevision
	}
}

func (l *streamLog) allReached(ids int, rev int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range int64(ids) {
		if l.lastRev[id] < rev {
			return false
		}
	}
	return true
}

func testStreamManyWatchers(t *testing.T, c *agenttest.Cluster) {
	ctx, cancel := context.WithCancel(testCtx(t, 2*time.Minute))
	defer cancel()
	cli := c.Client()
	pk, pe := prefixOf("many/")
	first := mustPut(t, cli, "many/k0", "first")
	ops := []op{{rev: first.Header.Revision, key: "many/k0", value: "first"}}
	kinds := []*pb.WatchCreateRequest{
		{Key: pk, RangeEnd: pe},
		{Key: pk, RangeEnd: pe, PrevKv: true},
		{Key: pk, RangeEnd: pe, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}, PrevKv: true},
		{Key: pk, RangeEnd: pe, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NODELETE}},
		{Key: pk, RangeEnd: pe, StartRevision: first.Header.Revision},
		{Key: []byte("many/k3")},
	}
	const perKind = 40
	s := openStream(t, ctx, cli)
	log := newStreamLog()
	go log.read(s.s)
	var reqs []*pb.WatchCreateRequest // by watch id (auto ids count from 0)
	for range perKind {
		for _, cr := range kinds {
			s.create(cr)
			reqs = append(reqs, cr)
		}
	}
	// Writers race with the creations and with each other.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wcli := c.Client()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w)))
			for i := range 60 {
				k := fmt.Sprintf("many/k%d", r.Intn(8))
				if r.Intn(4) == 0 {
					resp, err := wcli.Delete(ctx, k)
					if err != nil {
						t.Error(err)
						return
					}
					if resp.Deleted > 0 {
						mu.Lock()
						ops = append(ops, op{rev: resp.Header.Revision, del: true, key: k})
						mu.Unlock()
					}
					continue
				}
				v := fmt.Sprintf("w%d-%d", w, i)
				resp, err := wcli.Put(ctx, k, v)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ops = append(ops, op{rev: resp.Header.Revision, key: k, value: v})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// A last revision every kind sees: a put of k3 and a delete.
	mustPut(t, cli, "many/last", "x")
	tr, err := cli.Txn(ctx).Then(clientv3.OpPut("many/k3", "final"), clientv3.OpDelete("many/last")).Commit()
	if err != nil {
		t.Fatal(err)
	}
	final := tr.Header.Revision
	ops = append(ops, op{rev: final - 1, key: "many/last", value: "x"}, op{rev: final, key: "many/k3", value: "final"},
		op{rev: final, sub: 1, del: true, key: "many/last"})
	sort.Slice(ops, func(i, j int) bool {
		return ops[i].rev < ops[j].rev || ops[i].rev == ops[j].rev && ops[i].sub < ops[j].sub
	})
	waitUntil(t, time.Minute, "every watcher to get the last revision", func() bool { return log.allReached(len(reqs), final) })
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.errs) > 0 {
		t.Fatalf("%d errors, first: %s", len(log.errs), log.errs[0])
	}
	for id, cr := range reqs {
		want := wantEvents(ops, cr, log.created[int64(id)])
		if got := log.events[int64(id)]; !eq(got, want) {
			t.Fatalf("watch %d (%v): %d events, want %d:\n%s", id, cr, len(got), len(want), diff(got, want))
		}
	}
}

func testStreamBlocked(t *testing.T, c *agenttest.Cluster) {
	ctx, cancel := context.WithCancel(testCtx(t, 2*time.Minute))
	defer cancel()
	pk, pe := prefixOf("blk/")
	// A stream whose client reads the created responses, then nothing.
	blocked := openStream(t, ctx, c.Client())
	const watchers = 100
	for range watchers {
		blocked.create(&pb.WatchCreateRequest{Key: pk, RangeEnd: pe})
	}
	for range watchers {
		if r, err := blocked.s.Recv(); err != nil || !r.Created {
			t.Fatalf("create: %v %v", r, err)
		}
	}
	other := c.Client().Watch(ctx, "blk/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	if r := <-other; !r.Created {
		t.Fatalf("other stream: %+v", r)
	}
	// 300 puts of 8 KiB: 240 MB for the blocked stream, far beyond what
	// flow control and socket buffers hold.
	cli := c.Client()
	value := strings.Repeat("v", 8<<10)
	var worstPut, worstEvent time.Duration
	for i := range 300 {
		start := time.Now()
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := cli.Put(pctx, fmt.Sprintf("blk/%d", i), value)
		pcancel()
		if err != nil {
			t.Fatalf("put %d with a stream not reading: %v", i, err)
		}
		worstPut = max(worstPut, time.Since(start))
		select {
		case r := <-other:
			if len(r.Events) != 1 || r.Events[0].Kv.ModRevision != resp.Header.Revision {
				t.Fatalf("other stream, put %d: %+v", i, r)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the other stream got no event for put %d", i)
		}
		worstEvent = max(worstEvent, time.Since(start))
	}
	t.Logf("slowest put %s, slowest put to event on the other stream %s", worstPut, worstEvent)
}

func testStreamCancelQueued(t *testing.T, c *agenttest.Cluster) {
	ctx, cancel := context.WithCancel(testCtx(t, 2*time.Minute))
	defer cancel()
	s := openStream(t, ctx, c.Client())
	pk, pe := prefixOf("cq/")
	s.create(&pb.WatchCreateRequest{Key: pk, RangeEnd: pe}) // id 0
	if r, err := s.s.Recv(); err != nil || !r.Created || r.WatchId != 0 {
		t.Fatalf("create: %v %v", r, err)
	}
	// The client does not read while the events pile up on the server.
	cli := c.Client()
	value := strings.Repeat("v", 8<<10)
	var revs []int64
	for i := range 300 {
		revs = append(revs, mustPut(t, cli, fmt.Sprintf("cq/%d", i), value).Header.Revision)
	}
	s.cancel(0)
	// id 1 starts after the last put, so it sees the next write to its key
	// however late the server handles its create.
	s.create(&pb.WatchCreateRequest{Key: []byte("cq-after"), StartRevision: revs[len(revs)-1] + 1}) // id 1
	after := mustPut(t, cli, "cq-after", "x").Header.Revision
	var got []int64
	canceled := false
	for {
		r, err := s.s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case r.WatchId == 0 && canceled:
			t.Fatalf("watch 0: a response after its cancel: %+v", r)
		case r.WatchId == 0 && r.Canceled:
			canceled = true
		case r.WatchId == 0:
			for _, ev := range r.Events {
				got = append(got, ev.Kv.ModRevision)
			}
		case r.WatchId == 1 && r.Created:
			if !canceled {
				t.Fatal("watch 1 was created before watch 0's cancel was confirmed")
			}
		case r.WatchId == 1 && len(r.Events) == 1 && r.Events[0].Kv.ModRevision == after:
			// Watch 0 got a prefix of the writes, in order, each once.
			if len(got) > len(revs) || !eqRevs(got, revs[:len(got)]) {
				t.Fatalf("watch 0 got revisions %v\nwant a prefix of %v", got, revs)
			}
			t.Logf("watch 0 got %d of %d events before its cancel", len(got), len(revs))
			return
		default:
			t.Fatalf("unexpected response %+v", r)
		}
	}
}

func eqRevs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
