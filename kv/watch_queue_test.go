package kv

import (
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// queueLog is what a consumer took from a WatchQueue, per watcher tag.
type queueLog struct {
	created map[any]int64 // the revision of each watcher's Created item
	events  map[any][]*mvccpb.Event
	errs    []string
}

func newQueueLog() *queueLog {
	return &queueLog{created: map[any]int64{}, events: map[any][]*mvccpb.Event{}}
}

// add records items, checking each watcher's Created item comes first and
// that nothing follows a cancellation.
func (l *queueLog) add(items []QueueItem) {
	for _, it := range items {
		if it.Watcher == nil {
			continue
		}
		tag := it.Watcher.Tag()
		_, seen := l.created[tag]
		switch {
		case it.Created && seen:
			l.errs = append(l.errs, fmt.Sprintf("%v: second created item", tag))
		case it.Created:
			l.created[tag] = it.Resp.Revision
		case !seen:
			l.errs = append(l.errs, fmt.Sprintf("%v: response before the created item", tag))
		case it.Resp.Canceled:
			l.errs = append(l.errs, fmt.Sprintf("%v: cancelled: %s", tag, it.Resp.CancelReason))
		default:
			l.events[tag] = append(l.events[tag], it.Resp.Events...)
		}
	}
}

// TestWatchQueueManyWatchers: hundreds of watchers of every kind share one
// queue whose consumer is slow, so most of them overflow their share and
// are caught up from history, some several times. Each must get exactly
// the events a watcher replaying the whole history gets, in order, after
// its created item.
func TestWatchQueueManyWatchers(t *testing.T) {
	s := newTestStore(t, Options{WatchBuffer: 4})
	for i := range 20 {
		s.put(fmt.Sprintf("k%02d", i%7), fmt.Sprint(i))
	}
	reqs := []WatchRequest{
		{Key: []byte("k"), RangeEnd: []byte("l")},
		{Key: []byte("k"), RangeEnd: []byte("l"), PrevKV: true},
		{Key: []byte("k03")},
		{Key: []byte("k"), RangeEnd: []byte("l"), NoDelete: true},
		{Key: []byte("k"), RangeEnd: []byte("l"), NoPut: true, PrevKV: true},
		{Key: []byte("k"), RangeEnd: []byte("l"), StartRev: 5},
		{Key: []byte("k0"), RangeEnd: []byte{0}, StartRev: 2, PrevKV: true},
		{Key: []byte("k"), RangeEnd: []byte("l"), StartRev: 70}, // in the future
	}
	const copies = 30
	created := s.Rev()
	q := s.NewWatchQueue()
	for c := range copies {
		for i, req := range reqs {
			q.Watch(req, [2]int{i, c})
		}
	}
	var tags []any
	for c := range copies {
		for i := range reqs {
			tags = append(tags, [2]int{i, c})
		}
	}
	log := newQueueLog()
	finalRev := make(chan int64, 1)
	done := make(chan struct{})
	go func() { // a slow consumer, until every watcher has the last revision
		defer close(done)
		r := rand.New(rand.NewSource(1))
		var items []QueueItem
		final := int64(-1)
		for final < 0 || !reached(log, tags, final) {
			select {
			case <-q.Ready():
			case final = <-finalRev:
			case <-time.After(20 * time.Second):
				return
			}
			time.Sleep(time.Duration(r.Intn(300)) * time.Microsecond)
			items = q.Take(items)
			log.add(items)
		}
	}()
	r := rand.New(rand.NewSource(2))
	overflowed := false // the test is about resyncs: check some happened
	for i := range 600 {
		if i%20 == 0 {
			s.hub.mu.Lock()
			overflowed = overflowed || len(s.hub.unsynced) > 0
			s.hub.mu.Unlock()
		}
		k := fmt.Sprintf("k%02d", r.Intn(10))
		switch r.Intn(5) {
		case 0:
			s.del(k, "")
		case 1:
			if k == "k03" {
				k = "k09"
			}
			s.must(EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut(k, "t"), opPut("k03", "t"), opPut("j", "out")}}))
		default:
			s.put(k, fmt.Sprint(r.Int()))
		}
	}
	// A last revision every watcher sees.
	s.put("k05", "x")
	s.must(EncodeTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("k03", "final"), opDel("k05", "")}}))
	final := s.Rev()
	finalRev <- final
	<-done
	if !overflowed {
		t.Fatal("no watcher ever overflowed its share of the queue")
	}
	if len(log.errs) > 0 {
		t.Fatalf("%d errors, first: %s", len(log.errs), strings.Join(log.errs[:min(5, len(log.errs))], "; "))
	}
	for i, req := range reqs {
		ref := req
		if ref.StartRev == 0 {
			ref.StartRev = created + 1
		}
		rw := s.Watch(ref)
		want := evString(collectEvents(t, rw, final))
		rw.Close()
		for c := range copies {
			tag := [2]int{i, c}
			if log.created[tag] != created {
				t.Fatalf("watcher %v: created at %d, want %d", tag, log.created[tag], created)
			}
			if got := evString(log.events[tag]); got != want {
				t.Fatalf("watcher %v (%+v):\n got %s\nwant %s", tag, req, got, want)
			}
		}
	}
}

// reached reports whether every watcher got an event at revision final.
func reached(log *queueLog, tags []any, final int64) bool {
	for _, tag := range tags {
		evs := log.events[tag]
		if len(evs) == 0 || evs[len(evs)-1].Kv.ModRevision < final {
			return false
		}
	}
	return true
}

// TestWatchQueueOrder: a watcher's created item precedes its responses and
// carries the revision it starts after; values pushed by the consumer keep
// their place; a closed watcher gets nothing more.
func TestWatchQueueOrder(t *testing.T) {
	s := newTestStore(t, Options{})
	s.put("k", "0") // 2
	q := s.NewWatchQueue()
	q.Push("a")
	w1 := q.Watch(WatchRequest{Key: []byte("k")}, "w1")
	s.put("k", "1") // 3
	q.Push("b")
	q.Watch(WatchRequest{Key: []byte("k")}, "w2")
	s.put("k", "2") // 4
	got := describe(q.Take(nil))
	want := "a | w1 created@2 | w1 k@3 | b | w2 created@3 | w1 k@4 | w2 k@4"
	if got != want {
		t.Fatalf("queue:\n got %s\nwant %s", got, want)
	}
	w1.Close()
	s.put("k", "3") // 5
	if got := describe(q.Take(nil)); got != "w2 k@5" {
		t.Fatalf("after closing w1: %s", got)
	}
	if items := q.Take(nil); len(items) != 0 {
		t.Fatalf("taken twice: %s", describe(items))
	}
}

func describe(items []QueueItem) string {
	var parts []string
	for _, it := range items {
		switch {
		case it.Watcher == nil:
			parts = append(parts, fmt.Sprint(it.Value))
		case it.Created:
			parts = append(parts, fmt.Sprintf("%v created@%d", it.Watcher.Tag(), it.Resp.Revision))
		case it.Resp.Canceled:
			parts = append(parts, fmt.Sprintf("%v canceled@%d compact %d", it.Watcher.Tag(), it.Resp.Revision, it.Resp.CompactRevision))
		default:
			for _, ev := range it.Resp.Events {
				parts = append(parts, fmt.Sprintf("%v %s@%d", it.Watcher.Tag(), ev.Kv.Key, ev.Kv.ModRevision))
			}
		}
	}
	return strings.Join(parts, " | ")
}

// TestWatchQueueNeverBlocksApply: nobody takes from the queue while many
// revisions are applied. Apply must not wait, each watcher keeps at most
// its buffer's worth queued, and once the consumer reads, every watcher
// gets every event exactly once, in order.
func TestWatchQueueNeverBlocksApply(t *testing.T) {
	const watchers, puts, buf = 50, 2000, 8
	s := newTestStore(t, Options{WatchBuffer: buf})
	q := s.NewWatchQueue()
	var tags []any
	for i := range watchers {
		q.Watch(WatchRequest{Key: []byte("p/"), RangeEnd: []byte("p0")}, i)
		tags = append(tags, i)
	}
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for i := range puts {
			s.put(fmt.Sprintf("p/%d", i%10), fmt.Sprint(i))
		}
	}()
	select {
	case <-applied:
	case <-time.After(30 * time.Second):
		t.Fatal("apply blocked on a queue nobody reads")
	}
	q.mu.Lock()
	queued := len(q.items)
	q.mu.Unlock()
	if max := watchers * (buf + 1); queued > max { // + the created items
		t.Fatalf("%d items queued, want at most %d", queued, max)
	}
	log := newQueueLog()
	var items []QueueItem
	deadline := time.After(30 * time.Second)
	for !reached(log, tags, puts+1) {
		select {
		case <-q.Ready():
		case <-deadline:
			t.Fatal("watchers did not catch up")
		}
		items = q.Take(items)
		log.add(items)
	}
	if len(log.errs) > 0 {
		t.Fatal(log.errs[0])
	}
	for i := range watchers {
		evs := log.events[i]
		if len(evs) != puts {
			t.Fatalf("watcher %d: %d events, want %d", i, len(evs), puts)
		}
		for j, ev := range evs {
			if ev.Kv.ModRevision != int64(j+2) || string(ev.Kv.Value) != fmt.Sprint(j) {
				t.Fatalf("watcher %d event %d: %s=%s@%d", i, j, ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
			}
		}
	}
}

// TestWatchQueueFinalResponse: a cancellation by the store is queued even
// when the watcher's share is full, and is its last item.
func TestWatchQueueFinalResponse(t *testing.T) {
	s := newTestStore(t, Options{WatchBuffer: 1})
	q := s.NewWatchQueue()
	w := q.Watch(WatchRequest{Key: []byte("k")}, "w") // the created item fills the share
	for i := range 5 {
		s.put("k", fmt.Sprint(i))
	}
	if err := s.compact(s.Rev()); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("w created@1 | w canceled@%d compact %d", s.Rev(), s.Rev())
	deadline := time.Now().Add(10 * time.Second)
	var got string
	for got != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		q.mu.Lock()
		got = describe(q.items)
		q.mu.Unlock()
	}
	if got != want {
		t.Fatalf("queue:\n got %s\nwant %s", got, want)
	}
	if !errors.Is(w.Err(), ErrCompacted) {
		t.Fatalf("err %v", w.Err())
	}
	// Closing the store cancels a live queue watcher the same way.
	w2 := q.Watch(WatchRequest{Key: []byte("k")}, "w2")
	q.Take(nil)
	s.Close()
	if got := describe(q.Take(nil)); got != fmt.Sprintf("w2 canceled@%d compact 0", s.Rev()) || !errors.Is(w2.Err(), ErrClosed) {
		t.Fatalf("after Close: %s (%v)", got, w2.Err())
	}
	w2.Close() // a stream ending after the store closed (it used to panic)
}

// TestWatchQueueStalledConsumerIsCheap: while a consumer reads nothing, the
// syncer must not rebuild the backlog of its unsynced watchers on every
// retry (it would allocate the whole history again every 10 ms).
func TestWatchQueueStalledConsumerIsCheap(t *testing.T) {
	s := newTestStore(t, Options{WatchBuffer: 16})
	q := s.NewWatchQueue()
	for range 20 {
		q.Watch(WatchRequest{Key: []byte("p/"), RangeEnd: []byte("p0")}, nil)
	}
	value := strings.Repeat("v", 4<<10)
	for i := range 500 {
		s.put(fmt.Sprintf("p/%d", i), value)
	}
	// Once the syncer has found every watcher full, a 300 ms window (about
	// 30 retries) must allocate little; without the skip every window
	// allocates the backlog again. Windows are measured until one is cheap
	// or the deadline passes, so a slow first pass cannot fail the test.
	var alloc uint64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		time.Sleep(300 * time.Millisecond)
		runtime.ReadMemStats(&after)
		if alloc = after.TotalAlloc - before.TotalAlloc; alloc <= 4<<20 {
			return
		}
	}
	t.Fatalf("%d MB allocated in each 300 ms window for 10 s with the consumer stalled", alloc>>20)
}
