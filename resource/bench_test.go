package resource

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

// BenchmarkApplyWrite measures apply of one CAS update (decode, validate,
// index update, publish), with no watch.
func BenchmarkApplyWrite(b *testing.B) {
	s, _ := Open(Config{})
	defer s.Close()
	cmds := make([][]byte, 64)
	for i := range cmds {
		c := &command{op: opWrite, maxBytes: 1 << 20, uid: ulidA, generation: ulidA,
			res: &pbresource.Resource{Id: testID("Artist", fmt.Sprintf("a%d", i)), Data: testData("some data"), Metadata: map[string]string{"k": "v"}}}
		cmds[i], _ = c.encode()
		s.Apply(uint64(i+1), cmds[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Unconditional rewrite: create fails with a CAS failure after the
		// first, so rewrite with the stored version each time.
		k := i % len(cmds)
		cur := s.view.Load().db.get(testID("Artist", fmt.Sprintf("a%d", k)))
		c := &command{op: opWrite, maxBytes: 1 << 20, uid: ulidA, generation: ulidA,
			res: &pbresource.Resource{Id: cur.Id, Version: cur.Version, Data: testData("some data"), Metadata: map[string]string{"k": "v"}}}
		enc, _ := c.encode()
		s.Apply(uint64(100+i), enc)
	}
}

// BenchmarkReadEventual measures an eventual Read (lookup and clone).
func BenchmarkReadEventual(b *testing.B) {
	_, be := newLocal(b, Config{})
	ctx := context.Background()
	for i := range 1000 {
		mustWrite(b, ctx, be, &pbresource.Resource{Id: testID("Artist", fmt.Sprintf("a%d", i)), Data: testData("x")})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := be.Read(ctx, EventualConsistency, testID("Artist", fmt.Sprintf("a%d", i%1000))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWatchFanout measures a write delivered to 1000 watches of its
// type, each read by its own goroutine taking its events one at a time
// (Next) or in batches (NextBatch, as the API does).
func BenchmarkWatchFanout(b *testing.B) {
	b.Run("next", func(b *testing.B) { benchWatchFanout(b, false) })
	b.Run("batch", func(b *testing.B) { benchWatchFanout(b, true) })
	b.Run("lockstep", benchWatchLockstep)
}

// benchWatchLockstep writes only once every watcher has its previous
// event, as at a write rate the fan-out keeps up with (issue 12's 100
// writes/s): each event costs a wakeup of every watcher.
func benchWatchLockstep(b *testing.B) {
	_, be := newLocal(b, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const watchers = 1000
	var seen atomic.Int64
	round := make(chan struct{}, 1) // every watcher has one more event
	for range watchers {
		w, err := be.WatchList(ctx, artists, testTenancy, "", 0)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			buf := make([]Event, 0, 256)
			for {
				evs, err := w.NextBatch(ctx, buf)
				if err != nil {
					return
				}
				if seen.Add(int64(len(evs)))%watchers == 0 {
					round <- struct{}{}
				}
			}
		}()
	}
	<-round // EndOfSnapshot
	b.ResetTimer()
	cur := mustWrite(b, ctx, be, &pbresource.Resource{Id: testID("Artist", "hot")})
	for i := 0; i < b.N; i++ {
		<-round
		if i+1 < b.N {
			cur = mustWrite(b, ctx, be, cur)
		}
	}
}

func benchWatchFanout(b *testing.B, batch bool) {
	s, be := newLocal(b, Config{WatchBuffer: 1 << 16})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	const watchers = 1000
	for range watchers {
		w, err := be.WatchList(ctx, artists, testTenancy, "", 0)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]Event, 0, 256)
			for n := -1; n < b.N; { // EndOfSnapshot, then b.N writes
				if !batch {
					buf = buf[:1]
					buf[0], err = w.Next(ctx)
				} else {
					buf, err = w.NextBatch(ctx, buf)
				}
				if err != nil {
					b.Error(err)
					return
				}
				n += len(buf)
			}
		}()
	}
	b.ResetTimer()
	cur := mustWrite(b, ctx, be, &pbresource.Resource{Id: testID("Artist", "hot")})
	for i := 1; i < b.N; i++ {
		cur = mustWrite(b, ctx, be, cur)
	}
	wg.Wait()
	b.ReportMetric(float64(s.metrics.eventsSent.Load())/float64(b.N), "events/write")
}

// BenchmarkApplyBatchUpsert measures apply alone: Consul-style writes
// (opUpsert without a version, as an unconditional Write) of 640
// resources, encoded beforehand and applied in log entries of 11 commands
// as a loaded three-member cluster batches them. One op is one command.
func BenchmarkApplyBatchUpsert(b *testing.B) {
	const space, perEntry = 640, 11
	s, _ := Open(Config{})
	defer s.Close()
	cmds := make([][]byte, space)
	for i := range cmds {
		c := &command{op: opUpsert, maxBytes: 1 << 20, uid: ulidA, generation: ulidA,
			res: &pbresource.Resource{Id: testID("Artist", fmt.Sprintf("a%d", i)), Data: testData(string(make([]byte, 256)))}}
		cmds[i], _ = c.encode()
	}
	index := uint64(1)
	for i := 0; i < space; i += perEntry {
		s.ApplyBatch(index, cmds[i:min(i+perEntry, space)])
		index++
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += perEntry {
		from := (i * 7) % (space - perEntry)
		s.ApplyBatch(index, cmds[from:from+min(perEntry, b.N-i)])
		index++
	}
}

// BenchmarkEncodeWrite measures encoding a write command as the proposer
// does for every write (a bench-sized resource: 256 bytes of data).
func BenchmarkEncodeWrite(b *testing.B) {
	id := testID("Artist", "k0000000042")
	id.Uid = ulidA
	c := &command{op: opUpsert, maxBytes: 1 << 20, generation: ulidA,
		res: &pbresource.Resource{Id: id, Version: "12345", Data: testData(string(make([]byte, 256)))}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeWrite measures decoding the command BenchmarkEncodeWrite
// encodes, as every member does in apply (with the store's interner).
func BenchmarkDecodeWrite(b *testing.B) {
	id := testID("Artist", "k0000000042")
	id.Uid = ulidA
	c := &command{op: opUpsert, maxBytes: 1 << 20, generation: ulidA,
		res: &pbresource.Resource{Id: id, Version: "12345", Data: testData(string(make([]byte, 256)))}}
	enc, err := c.encode()
	if err != nil {
		b.Fatal(err)
	}
	in := newInterner()
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := decodeCommand(enc, in); err != nil {
			b.Fatal(err)
		}
	}
}
