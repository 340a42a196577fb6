package kv

import (
	"errors"
	"fmt"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

const waitFor = 10 * time.Second

// next returns the next response or fails after a deadline.
func next(t *testing.T, w *Watcher) *WatchResponse {
	t.Helper()
	select {
	case r, ok := <-w.C():
		if !ok {
			t.Fatal("channel closed")
		}
		return r
	case <-time.After(waitFor):
		t.Fatal("no watch response before the deadline")
	}
	return nil
}

// collectEvents reads responses until an event at revision upTo arrives.
func collectEvents(t *testing.T, w *Watcher, upTo int64) []*mvccpb.Event {
	t.Helper()
	var evs []*mvccpb.Event
	for len(evs) == 0 || evs[len(evs)-1].Kv.ModRevision < upTo {
		r := next(t, w)
		if r.Canceled {
			t.Fatalf("cancelled: %s", r.CancelReason)
		}
		evs = append(evs, r.Events...)
	}
	return evs
}

func evString(evs []*mvccpb.Event) string {
	out := ""
	for _, e := range evs {
		out += fmt.Sprintf("%s:%s@%d", e.Type, e.Kv.Key, e.Kv.ModRevision)
		if e.PrevKv != nil {
			out += fmt.Sprintf("(prev %s)", e.PrevKv.Value)
		}
		out += " "
	}
	return out
}

func TestWatchReplayThenLive(t *testing.T) {
	s := seed(t) // rev2 a=1, rev3 b=2, rev4 c=3, rev5 a=11, rev6 d=4, rev7 del c, rev8 e=5
	w := s.Watch(WatchRequest{Key: []byte("a"), RangeEnd: []byte("d"), StartRev: 3, PrevKV: true})
	defer w.Close()
	s.put("b", "22")
	got := evString(collectEvents(t, w, 9))
	want := "PUT:b@3 PUT:c@4 PUT:a@5(prev 1) DELETE:c@7(prev 3) PUT:b@9(prev 2) "
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// A txn's events arrive together, in sub-revision order.
	s.must(EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("b", "x"), opPut("zz", "out of range"), opDel("a", "")}}))
	r := next(t, w)
	if evString(r.Events) != "PUT:b@10(prev 22) DELETE:a@10(prev 11) " || r.Revision != 10 {
		t.Fatalf("txn events: %s rev %d", evString(r.Events), r.Revision)
	}
}

func TestWatchKinds(t *testing.T) {
	s := newTestStore(t, Options{})
	key := s.Watch(WatchRequest{Key: []byte("foo")})
	prefix := s.Watch(WatchRequest{Key: []byte("foo"), RangeEnd: []byte("fop")})
	all := s.Watch(WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, NoDelete: true})
	noPut := s.Watch(WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, NoPut: true})
	future := s.Watch(WatchRequest{Key: []byte("foo"), StartRev: 4})
	s.put("foo", "1")   // 2
	s.put("foobar", "") // 3
	s.put("bar", "")    // 4
	s.del("foo", "")    // 5
	s.put("foo", "2")   // 6
	if got := evString(collectEvents(t, key, 6)); got != "PUT:foo@2 DELETE:foo@5 PUT:foo@6 " {
		t.Errorf("key: %s", got)
	}
	if got := evString(collectEvents(t, prefix, 6)); got != "PUT:foo@2 PUT:foobar@3 DELETE:foo@5 PUT:foo@6 " {
		t.Errorf("prefix: %s", got)
	}
	if got := evString(collectEvents(t, all, 6)); got != "PUT:foo@2 PUT:foobar@3 PUT:bar@4 PUT:foo@6 " {
		t.Errorf("no delete: %s", got)
	}
	if got := evString(collectEvents(t, noPut, 5)); got != "DELETE:foo@5 " {
		t.Errorf("no put: %s", got)
	}
	if got := evString(collectEvents(t, future, 5)); got != "DELETE:foo@5 " {
		t.Errorf("future start: %s", got)
	}
}

func TestWatchCompactedStart(t *testing.T) {
	s := seed(t)
	if err := s.compact(6); err != nil {
		t.Fatal(err)
	}
	w := s.Watch(WatchRequest{Key: []byte("a"), RangeEnd: []byte("z"), StartRev: 5})
	r := next(t, w)
	if !r.Canceled || r.CompactRevision != 6 {
		t.Fatalf("response %+v", r)
	}
	var ce *CompactedError
	if !errors.As(w.Err(), &ce) || ce.CompactRev != 6 || !errors.Is(w.Err(), ErrCompacted) {
		t.Fatalf("err %v", w.Err())
	}
	if _, ok := <-w.C(); ok {
		t.Fatal("channel not closed after cancel")
	}
	// Starting at the compacted revision is allowed (etcd: the puts that
	// survived compaction at that revision, then everything after).
	w = s.Watch(WatchRequest{Key: []byte("a"), RangeEnd: []byte("z"), StartRev: 6})
	defer w.Close()
	if got := evString(collectEvents(t, w, 8)); got != "PUT:d@6 DELETE:c@7 PUT:e@8 " {
		t.Fatalf("from compact rev: %s", got)
	}
}

// TestWatchSlowWatcher fills a watcher's buffer so it goes unsynced, then
// reads everything: every event must arrive exactly once and in order.
func TestWatchSlowWatcher(t *testing.T) {
	s := newTestStore(t, Options{WatchBuffer: 4})
	w := s.Watch(WatchRequest{Key: []byte("k"), RangeEnd: []byte("l"), PrevKV: true})
	defer w.Close()
	single := s.Watch(WatchRequest{Key: []byte("k1")})
	defer single.Close()
	const n = 500
	for i := 0; i < n; i++ {
		s.put(fmt.Sprintf("k%d", i%7), fmt.Sprint(i))
	}
	evs := collectEvents(t, w, n+1)
	if len(evs) != n {
		t.Fatalf("%d events, want %d", len(evs), n)
	}
	for i, e := range evs {
		if e.Kv.ModRevision != int64(i+2) || string(e.Kv.Value) != fmt.Sprint(i) {
			t.Fatalf("event %d: %s", i, evString([]*mvccpb.Event{e}))
		}
		if i >= 7 && string(e.PrevKv.Value) != fmt.Sprint(i-7) {
			t.Fatalf("event %d prev %s", i, e.PrevKv.Value)
		}
	}
	sv := collectEvents(t, single, int64(n/7*7-7+1+2)) // the last put of k1
	for i, e := range sv {
		if string(e.Kv.Key) != "k1" || (i > 0 && e.Kv.ModRevision != sv[i-1].Kv.ModRevision+7) {
			t.Fatalf("single-key replay: %s", evString(sv))
		}
	}
	// Once caught up it is live again.
	s.put("k0", "live")
	if r := next(t, w); evString(r.Events) != fmt.Sprintf("PUT:k0@%d(prev 497) ", n+2) {
		t.Fatalf("live after resync: %s", evString(r.Events))
	}
}

// TestWatchCompactionCancelsUnsynced: a watcher that falls behind and whose
// history is compacted meanwhile is cancelled with the compact revision.
func TestWatchCompactionCancelsUnsynced(t *testing.T) {
	s := newTestStore(t, Options{WatchBuffer: 1})
	w := s.Watch(WatchRequest{Key: []byte("k")})
	s.put("k", "1") // fills the buffer
	// The buffer stays full (nobody reads), so the syncer cannot deliver
	// anything before the compaction below.
	for i := 0; i < 10; i++ {
		s.put("k", "x")
	}
	if err := s.compact(s.Rev()); err != nil {
		t.Fatal(err)
	}
	r := next(t, w)
	if r.Canceled || len(r.Events) != 1 {
		t.Fatalf("first response %+v", r)
	}
	r = next(t, w)
	if !r.Canceled || r.CompactRevision != s.Rev() {
		t.Fatalf("want compaction cancel, got %+v", r)
	}
	if !errors.Is(w.Err(), ErrCompacted) {
		t.Fatal(w.Err())
	}
}

func TestWatchProgressAndClose(t *testing.T) {
	s := newTestStore(t, Options{})
	w := s.Watch(WatchRequest{Key: []byte("k"), ProgressNotify: true})
	other := s.Watch(WatchRequest{Key: []byte("k")})
	s.put("x", "1")
	s.ProgressNotify()
	r := next(t, w)
	if !r.IsProgressNotify() || r.Revision != 2 {
		t.Fatalf("progress %+v", r)
	}
	select {
	case r := <-other.C():
		t.Fatalf("unexpected %+v", r)
	default:
	}
	other.RequestProgress()
	if r := next(t, other); !r.IsProgressNotify() || r.Revision != 2 {
		t.Fatalf("requested progress %+v", r)
	}
	w.Close()
	w.Close()
	if _, ok := <-w.C(); ok {
		t.Fatal("not closed")
	}
	s.put("k", "after close") // must not panic
	if r := next(t, other); len(r.Events) != 1 {
		t.Fatalf("event %+v", r)
	}
	s.Close()
	if r, ok := <-other.C(); !ok || !r.Canceled {
		t.Fatalf("store close: %+v", r)
	}
}

func TestWatchRestore(t *testing.T) {
	a := newTestStore(t, Options{})
	b := newTestStore(t, Options{})
	for i := 0; i < 5; i++ {
		a.put("k", fmt.Sprint(i))
		b.put("k", fmt.Sprint(i))
	}
	w := b.Watch(WatchRequest{Key: []byte("k")})
	defer w.Close()
	for i := 5; i < 10; i++ {
		a.put("k", fmt.Sprint(i))
	}
	// b is restored from a, which is ahead: the watcher continues with the
	// revisions it has not seen.
	if err := b.Restore(bytesReader(persist(t, a.Store))); err != nil {
		t.Fatal(err)
	}
	if got := evString(collectEvents(t, w, 11)); got != "PUT:k@7 PUT:k@8 PUT:k@9 PUT:k@10 PUT:k@11 " {
		t.Fatalf("after restore: %s", got)
	}
	// Restored with compacted history: the watcher is cancelled.
	a.put("k", "x") // 12
	a.put("k", "z") // 13
	a.compact(a.Rev())
	a.put("k", "y")
	if err := b.Restore(bytesReader(persist(t, a.Store))); err != nil {
		t.Fatal(err)
	}
	r := next(t, w)
	if !r.Canceled || r.CompactRevision != 13 {
		t.Fatalf("want compaction cancel: %+v", r)
	}
}
