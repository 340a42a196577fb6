package wal

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
)

// TestConcurrentReads reads entries from several goroutines while one
// appends, compacts the head and truncates the tail, as raft's replication
// goroutines do; run with -race. A read either finds the entry written at
// that index or reports raft.ErrLogNotFound for one deleted under it.
func TestConcurrentReads(t *testing.T) {
	l := openLog(t, t.TempDir(), 8<<10)
	must(t, l.StoreLogs(entries(1, 10, 1)))
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	for r := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 0))
			for !stop.Load() {
				first, _ := l.FirstIndex()
				last, _ := l.LastIndex()
				if last == 0 {
					continue
				}
				i := first + rng.Uint64N(last-first+1)
				var got raft.Log
				err := l.GetLog(i, &got)
				if errors.Is(err, raft.ErrLogNotFound) {
					continue
				}
				// Terms: 1 for the first writes, then the round that rewrote it.
				if err != nil || got.Index != i || !sameEntry(&got, entry(i, got.Term)) {
					t.Errorf("entry %d: %+v %v", i, got, err)
					stop.Store(true)
				}
				reads.Add(1)
			}
		})
	}
	next := uint64(11)
	for round := uint64(2); round < 300 && !t.Failed(); round++ {
		must(t, l.StoreLogs(entries(next, next+9, round)))
		next += 10
		switch round % 10 {
		case 0: // compaction
			first, _ := l.FirstIndex()
			must(t, l.DeleteRange(first, next-50))
		case 5: // conflicting tail
			must(t, l.DeleteRange(next-7, next-1))
			next -= 7
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("no reads")
	}
}
