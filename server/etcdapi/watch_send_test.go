package etcdapi

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/concord-db/concord/kv"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
)

// stubNode is the part of Node response headers read.
type stubNode struct{ Node }

func (stubNode) ID() string        { return "n1" }
func (stubNode) ClusterID() uint64 { return 7 }
func (stubNode) Term() uint64      { return 3 }

// WaitApplied: the stub has applied everything (it acknowledges no writes).
func (stubNode) WaitApplied(context.Context, uint64) error { return nil }

// fakeWatchServer records what a stream sends, decoded as the client would.
type fakeWatchServer struct {
	grpc.ServerStream
	ctx  context.Context
	mu   sync.Mutex
	sent []*pb.WatchResponse
}

func (f *fakeWatchServer) Context() context.Context { return f.ctx }

func (f *fakeWatchServer) Send(r *pb.WatchResponse) error { return f.SendMsg(r) }

func (f *fakeWatchServer) SendMsg(m any) error {
	b, err := m.(interface{ Marshal() ([]byte, error) }).Marshal()
	if err != nil {
		return err
	}
	r := &pb.WatchResponse{}
	if err := r.Unmarshal(b); err != nil {
		return err
	}
	f.mu.Lock()
	f.sent = append(f.sent, r)
	f.mu.Unlock()
	return nil
}

func (f *fakeWatchServer) Recv() (*pb.WatchRequest, error) { select {} }

// take returns and forgets what was sent, one line per response.
func (f *fakeWatchServer) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lines []string
	for _, r := range f.sent {
		l := fmt.Sprintf("id=%d rev=%d", r.WatchId, r.Header.Revision)
		for _, flag := range []struct {
			set  bool
			name string
		}{{r.Created, "created"}, {r.Canceled, "canceled"}, {r.Fragment, "fragment"}} {
			if flag.set {
				l += " " + flag.name
			}
		}
		if r.Header.ClusterId != 7 || r.Header.RaftTerm != 3 || r.Header.MemberId != MemberID("n1") {
			l += fmt.Sprintf(" bad header %+v", r.Header)
		}
		for _, ev := range r.Events {
			l += fmt.Sprintf(" %s@%d", ev.Kv.Key, ev.Kv.ModRevision)
			if ev.PrevKv != nil {
				l += "(prev)"
			}
		}
		lines = append(lines, l)
	}
	f.sent = nil
	return strings.Join(lines, "\n")
}

func newTestStream(t *testing.T, maxRequestBytes int) (*watchStream, *fakeWatchServer, *kv.Store) {
	s := kv.New(kv.Options{})
	t.Cleanup(func() { s.Close() })
	srv := &fakeWatchServer{ctx: context.Background()}
	a := &API{node: stubNode{}, store: s, limits: Limits{MaxRequestBytes: maxRequestBytes}}
	return &watchStream{a: a, srv: srv, q: s.NewWatchQueue(), watchers: map[int64]*streamWatcher{}}, srv, s
}

// apply applies cmd to s at the next log index.
func apply(t *testing.T, s *kv.Store, cmd []byte) {
	t.Helper()
	if _, _, err := kv.DecodeResult(s.Apply(s.AppliedIndex()+1, cmd)); err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, s *kv.Store, key string, size int) {
	t.Helper()
	apply(t, s, kv.EncodePut(&pb.PutRequest{Key: []byte(key), Value: make([]byte, size)}))
}

// TestWatchSenderBatch sends batches the way a sender that fell behind
// takes them: a watcher's consecutive event responses merge into messages
// of at most the merge limit carrying the last revision, a revision is
// never split except into fragments for a watcher that asked for them,
// and every watcher's messages keep their order (created first, nothing
// after the client's cancel).
func TestWatchSenderBatch(t *testing.T) {
	ws, srv, s := newTestStream(t, 4096)
	send := newWatchSender(ws)
	batch := func() {
		t.Helper()
		if done, err := send.sendBatch(ws.q.Take(nil)); done || err != nil {
			t.Fatalf("sendBatch: %v %v", done, err)
		}
	}
	for _, cr := range []*pb.WatchCreateRequest{
		{Key: []byte("p/"), RangeEnd: []byte("p0")},
		{Key: []byte("p/"), RangeEnd: []byte("p0"), Fragment: true, PrevKv: true},
	} {
		if err := ws.create(cr); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 { // revisions 2..8, about 1 KiB of events each
		put(t, s, fmt.Sprintf("p/%d", i), 1000)
	}
	batch()
	want := `id=0 rev=1 created
id=0 rev=4 p/0@2 p/1@3 p/2@4
id=0 rev=7 p/3@5 p/4@6 p/5@7
id=0 rev=8 p/6@8
id=1 rev=1 created
id=1 rev=4 p/0@2 p/1@3 p/2@4
id=1 rev=7 p/3@5 p/4@6 p/5@7
id=1 rev=8 p/6@8`
	if got := srv.take(); got != want {
		t.Fatalf("merged:\n%s\nwant:\n%s", got, want)
	}

	// One revision of 6 KiB (12 with prev_kv): whole for watcher 0,
	// fragments of at most 4 KiB of events for watcher 1.
	txn := &pb.TxnRequest{}
	for i := range 6 {
		txn.Success = append(txn.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(fmt.Sprintf("p/%d", i)), Value: make([]byte, 1000)}}})
	}
	apply(t, s, kv.EncodeTxn(txn))
	ws.cancel(0)
	put(t, s, "p/x", 1) // after the cancel: watcher 1 only
	ws.progress()
	batch()
	want = `id=0 rev=9 p/0@9 p/1@9 p/2@9 p/3@9 p/4@9 p/5@9
id=1 rev=9 fragment p/0@9(prev) p/1@9(prev)
id=1 rev=9 fragment p/2@9(prev) p/3@9(prev)
id=1 rev=9 p/4@9(prev) p/5@9(prev)
id=1 rev=10 p/x@10
id=1 rev=10
id=0 rev=9 canceled`
	if got := srv.take(); got != want {
		t.Fatalf("fragments, cancel, progress:\n%s\nwant:\n%s", got, want)
	}
	if len(ws.watchers) != 1 {
		t.Fatalf("watchers left: %v", ws.watchers)
	}
}

// TestWatchSenderStoreCancel: a cancellation by the store reaches the
// client with its reason and compact revision, and the stream forgets the
// watcher.
func TestWatchSenderStoreCancel(t *testing.T) {
	ws, srv, s := newTestStream(t, 4096)
	send := newWatchSender(ws)
	put(t, s, "k", 1)
	put(t, s, "k", 1)
	apply(t, s, kv.EncodeCompact(&pb.CompactionRequest{Revision: 3}))
	if err := ws.create(&pb.WatchCreateRequest{Key: []byte("k"), StartRevision: 2}); err != nil {
		t.Fatal(err)
	}
	// The two responses may come in one batch or in two.
	var lines []string
	for !strings.Contains(strings.Join(lines, "\n"), "canceled") {
		<-ws.q.Ready()
		if _, err := send.sendBatch(ws.q.Take(nil)); err != nil {
			t.Fatal(err)
		}
		if out := srv.take(); out != "" {
			lines = append(lines, out)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if got, want := strings.Join(lines, "\n"), "id=0 rev=3 created\nid=0 rev=3 canceled"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if len(ws.watchers) != 0 {
		t.Fatalf("the cancelled watcher is still registered")
	}
}
