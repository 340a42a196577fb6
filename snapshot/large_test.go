package snapshot

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
)

// largeStateSize is the state.bin size of TestLargeArchiveStreams; the race
// detector makes everything ~10x slower, so it gets a smaller one.
var largeStateSize int64 = 200 << 20

// raceEnabled is set when built with -race.
var raceEnabled bool

// heapSampler records the peak heap in use while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startHeapSampler() *heapSampler {
	runtime.GC()
	h := &heapSampler{stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) done() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak.Load()
}

// genState writes a state.bin of about size bytes: a node section and a
// user section of semi-compressible pseudo-random text, chunk by chunk.
func genState(size int64) func(io.Writer) error {
	return func(w io.Writer) error {
		rng := rand.New(rand.NewPCG(1, 2))
		chunk := make([]byte, 256<<10)
		sw := newStateWriter(w, 1, 1000, 5)
		sw.section(0)
		sw.chunk([]byte("node"))
		sw.section(uint8(node.TypeKV))
		key := 0
		for written := int64(0); written < size; written += int64(len(chunk)) {
			// KV-like 64-byte records: a sequential key and a random value.
			for i := 0; i+64 <= len(chunk); i += 64 {
				rec := chunk[i : i : i+64]
				rec = fmt.Appendf(rec, "key/%010d=", key)
				rec = strconv.AppendUint(rec, rng.Uint64(), 16)
				rec = strconv.AppendUint(rec, rng.Uint64()&0xffffffff, 36)
				for len(rec) < 64 {
					rec = append(rec, ' ')
				}
				key++
			}
			sw.chunk(chunk)
		}
		return sw.end()
	}
}

type hashTarget struct {
	n   int64
	sum []byte
}

func (h *hashTarget) Rollback(_ context.Context, r io.Reader) error {
	d := sha256.New()
	n, err := io.Copy(d, r)
	h.n, h.sum = n, d.Sum(nil)
	return err
}

func TestLargeArchiveStreams(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "large.snap")
	src := &fakeSource{index: 1000, term: 5, gen: genState(largeStateSize)}
	const limit = 64 << 20

	start := time.Now()
	hs := startHeapSampler()
	a, err := WriteFile(ctx, path, src, WriteOptions{Created: testCreated, Sealer: mustHMAC(t, 1), TempDir: dir})
	peakWrite := hs.done()
	if err != nil {
		t.Fatal(err)
	}
	writeTime := time.Since(start)

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start = time.Now()
	hs = startHeapSampler()
	target := &hashTarget{}
	v, err := Restore(ctx, f, target, VerifyOptions{Sealer: mustHMAC(t, 1), TempDir: dir})
	peakRestore := hs.done()
	if err != nil {
		t.Fatal(err)
	}
	restoreTime := time.Since(start)
	t.Logf("state.bin %d bytes, archive %d bytes; write %v (peak heap in use %.1f MiB), verify+restore %v (peak %.1f MiB)",
		a.Meta.Size, a.Size(), writeTime.Round(time.Millisecond), float64(peakWrite)/(1<<20),
		restoreTime.Round(time.Millisecond), float64(peakRestore)/(1<<20))
	if v.Checksum() != a.Checksum() || target.n != a.Meta.Size {
		t.Errorf("restore saw %d bytes, checksum %s; wrote %d, %s", target.n, v.Checksum(), a.Meta.Size, a.Checksum())
	}
	if peakWrite > limit || peakRestore > limit {
		t.Errorf("peak heap %d / %d bytes, want below %d", peakWrite, peakRestore, limit)
	}
}
