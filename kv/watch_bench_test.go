package kv

import (
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// BenchmarkHubNotify measures the apply path's share of a watch fan-out:
// one hub.notify of a one-put revision with n watchers on the put's
// prefix. "chan" watchers each have their own channel (Store.Watch);
// "queue" watchers share 10 WatchQueues, as the watchers of 10 gRPC
// streams do. The consumers are drained outside the timer, so a full
// buffer never sends a watcher unsynced and no response stays queued.
func BenchmarkHubNotify(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("chan/prefix-watchers=%d", n), func(b *testing.B) {
			s := New(Options{WatchBuffer: 128})
			defer s.Close()
			var ws []*Watcher
			for range n {
				ws = append(ws, s.Watch(WatchRequest{Key: []byte("/p/"), RangeEnd: []byte("/p0")}))
			}
			benchNotify(b, s, func() {
				for _, w := range ws {
					for len(w.ch) > 0 {
						<-w.ch
					}
				}
			})
		})
		b.Run(fmt.Sprintf("queue/prefix-watchers=%d", n), func(b *testing.B) {
			s := New(Options{WatchBuffer: 128})
			defer s.Close()
			qs := make([]*WatchQueue, 10)
			for i := range qs {
				qs[i] = s.NewWatchQueue()
			}
			for i := range n {
				qs[i%len(qs)].Watch(WatchRequest{Key: []byte("/p/"), RangeEnd: []byte("/p0")}, nil)
			}
			bufs := make([][]QueueItem, len(qs))
			benchNotify(b, s, func() {
				for i, q := range qs {
					bufs[i] = q.Take(bufs[i])
				}
			})
		})
	}
}

// benchNotify times b.N notifies, calling drain untimed after each.
func benchNotify(b *testing.B, s *Store, drain func()) {
	changes := benchChanges()
	drain()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.hub.notify(int64(i+2), changes)
		b.StopTimer()
		drain()
		b.StartTimer()
	}
}

// benchChanges is one put under the watched prefix /p/.
func benchChanges() []change {
	cur := &rec{key: "/p/k", value: string(make([]byte, 256)), create: 2, mod: 2, version: 1}
	return []change{{cur: cur}}
}

// BenchmarkHubCatchUp measures the syncer catching up watchers that fell
// behind together, as a slow stream's do: each op starts n watchers on a
// prefix 100 revisions back and waits until the syncer has queued their
// history.
func BenchmarkHubCatchUp(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("watchers=%d", n), func(b *testing.B) {
			s := New(Options{WatchBuffer: 128})
			defer s.Close()
			for i := range 100 {
				s.Apply(uint64(i+1), EncodePut(&pb.PutRequest{Key: []byte(fmt.Sprintf("/p/%d", i)), Value: make([]byte, 256)}))
			}
			q := s.NewWatchQueue()
			ws := make([]*Watcher, n)
			var items []QueueItem
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range ws {
					ws[j] = q.Watch(WatchRequest{Key: []byte("/p/"), RangeEnd: []byte("/p0"), StartRev: 2}, nil)
				}
				for got := 0; got < 2*n; { // each: its created item, then one catch-up response
					<-q.Ready()
					items = q.Take(items)
					got += len(items)
				}
				b.StopTimer()
				for _, w := range ws {
					w.Close()
				}
				b.StartTimer()
			}
		})
	}
}
