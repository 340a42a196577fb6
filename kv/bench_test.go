package kv

import (
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// BenchmarkWatch applies puts with 10k watchers on one prefix and 10k on
// distinct keys. "prefix-put" writes under the prefix (every prefix watcher
// gets the event), "key-put" writes one watched key (one watcher gets it,
// and none of the 10k prefix watchers is looked at).
func BenchmarkWatch(b *testing.B) {
	const n = 10_000
	for _, mode := range []string{"prefix-put", "key-put", "unwatched-put"} {
		b.Run(mode, func(b *testing.B) {
			s := New(Options{WatchBuffer: 128})
			defer s.Close()
			var ws []*Watcher
			for i := 0; i < n; i++ {
				ws = append(ws, s.Watch(WatchRequest{Key: []byte("/p/"), RangeEnd: []byte("/p0")}))
				ws = append(ws, s.Watch(WatchRequest{Key: []byte(fmt.Sprintf("/k/%05d", i))}))
			}
			drain := func() {
				for _, w := range ws {
					for len(w.ch) > 0 {
						<-w.ch
					}
				}
			}
			cmds := make([][]byte, 1024)
			for i := range cmds {
				var key string
				switch mode {
				case "prefix-put":
					key = fmt.Sprintf("/p/%d", i)
				case "key-put":
					key = fmt.Sprintf("/k/%05d", i*7%n)
				default:
					key = fmt.Sprintf("/u/%d", i)
				}
				cmds[i] = EncodePut(&pb.PutRequest{Key: []byte(key), Value: make([]byte, 256)})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Apply(uint64(i+1), cmds[i%len(cmds)])
				if i%100 == 99 {
					b.StopTimer()
					drain()
					b.StartTimer()
				}
			}
		})
	}
}

func BenchmarkApplyPut(b *testing.B) {
	s := New(Options{})
	defer s.Close()
	cmds := make([][]byte, 100_000)
	for i := range cmds {
		cmds[i] = EncodePut(&pb.PutRequest{Key: []byte(benchKey(i)), Value: make([]byte, 256)})
	}
	for i, c := range cmds {
		s.Apply(uint64(i+1), c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Apply(uint64(len(cmds)+i+1), cmds[i%len(cmds)])
	}
}

func BenchmarkRange(b *testing.B) {
	s := New(Options{})
	defer s.Close()
	for i := 0; i < 100_000; i++ {
		s.Apply(uint64(i+1), EncodePut(&pb.PutRequest{Key: []byte(benchKey(i)), Value: make([]byte, 256)}))
	}
	for _, limit := range []int64{1, 100} {
		b.Run(fmt.Sprintf("limit%d", limit), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				k := benchKey(i % 100_000)
				if _, err := s.Range(&pb.RangeRequest{Key: []byte(k), RangeEnd: []byte("/registry/pods/ns-100"), Limit: limit}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := s.Range(&pb.RangeRequest{Key: []byte(benchKey(i % 100_000))}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMemory1M reports the heap per key of 1M keys with 256-byte values.
func BenchmarkMemory1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		before := heapInUse()
		s := New(Options{})
		for j := 0; j < 1_000_000; j++ {
			s.Apply(uint64(j+1), EncodePut(&pb.PutRequest{Key: []byte(benchKey(j)), Value: make([]byte, 256)}))
		}
		b.ReportMetric(float64(heapInUse()-before)/1e6, "heap-B/key")
		s.Close()
	}
}
