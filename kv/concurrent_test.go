package kv

import (
	"io"
	"math/rand"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// TestConcurrentReadsWatchesAndApply runs readers, snapshots and watchers
// (fast, slow, and replaying) against a store while commands are applied;
// run it with -race. Every watcher must see every event exactly once, in
// order.
func TestConcurrentReadsWatchesAndApply(t *testing.T) {
	s := newTestStore(t, Options{WatchBuffer: 8})
	const n = 2000
	r := rand.New(rand.NewSource(5))
	cmds := make([][]byte, 0, n)
	for len(cmds) < n {
		c := randomCommand(r, 1)
		if len(c) > 1 && Kind(c[1]) == KindCompact {
			continue // keep the whole history for the watchers to be checked against
		}
		cmds = append(cmds, c)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rr := rand.New(rand.NewSource(seed))
			for {
				select {
				case <-stop:
					return
				default:
				}
				rev := s.Rev()
				req := &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 1 + rr.Int63n(rev)}
				a, err1 := s.Range(req)
				b, err2 := s.Range(req)
				if err1 != nil || err2 != nil || kvsString(a.Kvs) != kvsString(b.Kvs) {
					t.Errorf("reads at %d disagree: %v %v", req.Revision, err1, err2)
					return
				}
				s.HashKV(0)
				s.ReadTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opGet("k01")}})
				if rr.Intn(20) == 0 {
					snap, _ := s.Snapshot()
					if err := snap.Persist(io.Discard); err != nil {
						t.Error(err)
					}
				}
			}
		}(int64(i))
	}
	type result struct {
		name string
		evs  []*mvccpb.Event
	}
	results := make(chan result, 4)
	watch := func(name string, delay time.Duration, req WatchRequest) {
		w := s.Watch(req)
		go func() {
			defer w.Close()
			var evs []*mvccpb.Event
			for resp := range w.C() {
				if resp.Canceled {
					t.Errorf("%s cancelled: %s", name, resp.CancelReason)
					break
				}
				evs = append(evs, resp.Events...)
				if len(evs) > 0 && string(evs[len(evs)-1].Kv.Key) == "zz-final" {
					break
				}
				if delay > 0 {
					time.Sleep(delay) // a slow consumer, not a synchronisation
				}
			}
			results <- result{name, evs}
		}()
	}
	all := WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRev: 2}
	watch("fast", 0, all)
	watch("slow", 200*time.Microsecond, all)
	for i, c := range cmds {
		s.Apply(uint64(i+1), c)
		if i == n/2 {
			watch("late", 0, all) // replays the first half, then live
		}
	}
	close(stop)
	wg.Wait()
	// The last event, which tells the watchers to stop.
	s.put("zz-final", "x")
	want := evString(logEvents(s.view()))
	for i := 0; i < 3; i++ {
		select {
		case res := <-results:
			if got := evString(res.evs); got != want {
				t.Errorf("%s: %d events, want %d", res.name, len(res.evs), len(logEvents(s.view())))
			}
		case <-time.After(time.Minute):
			t.Fatal("watchers did not finish")
		}
	}
}

// logEvents is the full event history of a never-compacted store.
func logEvents(st *state) []*mvccpb.Event {
	var evs []*mvccpb.Event
	for _, v := range st.log {
		c := change{cur: v}
		evs = append(evs, eventOf(&c, false))
	}
	return evs
}
