package kv

import (
	"fmt"
	"math/rand"
	"runtime"
	"testing"

	"github.com/benbjohnson/immutable"
	iradix "github.com/hashicorp/go-immutable-radix"
)

// These benchmarks compare the two persistent ordered maps we could build the
// key index on. They measured the choice documented in index.go.

const benchIndexKeys = 100_000

func benchKey(i int) string { return fmt.Sprintf("/registry/pods/ns-%03d/pod-%08d", i%100, i) }

func buildSorted(n int) *immutable.SortedMap[string, *rec] {
	b := immutable.NewSortedMapBuilder[string, *rec](stringComparer{})
	for i := 0; i < n; i++ {
		b.Set(benchKey(i), &rec{})
	}
	return b.Map()
}

func buildRadix(n int) *iradix.Tree {
	t := iradix.New().Txn()
	for i := 0; i < n; i++ {
		t.Insert([]byte(benchKey(i)), &rec{})
	}
	return t.Commit()
}

func BenchmarkIndexPut(b *testing.B) {
	b.Run("sortedmap", func(b *testing.B) {
		m := buildSorted(benchIndexKeys)
		r := rand.New(rand.NewSource(1))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m = m.Set(benchKey(r.Intn(2*benchIndexKeys)), &rec{})
		}
	})
	b.Run("iradix", func(b *testing.B) {
		t := buildRadix(benchIndexKeys)
		r := rand.New(rand.NewSource(1))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t, _, _ = t.Insert([]byte(benchKey(r.Intn(2*benchIndexKeys))), &rec{})
		}
	})
}

func BenchmarkIndexRange100(b *testing.B) {
	b.Run("sortedmap", func(b *testing.B) {
		m := buildSorted(benchIndexKeys)
		r := rand.New(rand.NewSource(1))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			it := m.Iterator()
			it.Seek(benchKey(r.Intn(benchIndexKeys)))
			for j := 0; j < 100 && !it.Done(); j++ {
				it.Next()
			}
		}
	})
	b.Run("iradix", func(b *testing.B) {
		t := buildRadix(benchIndexKeys)
		r := rand.New(rand.NewSource(1))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			it := t.Root().Iterator()
			it.SeekLowerBound([]byte(benchKey(r.Intn(benchIndexKeys))))
			for j := 0; j < 100; j++ {
				if _, _, ok := it.Next(); !ok {
					break
				}
			}
		}
	})
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkIndexMemory reports the heap bytes per key of each index holding
// 1M keys (values shared, so only the index is counted).
func BenchmarkIndexMemory(b *testing.B) {
	const n = 1_000_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	v := &rec{}
	for i := 0; i < b.N; i++ {
		before := heapInUse()
		sb := immutable.NewSortedMapBuilder[string, *rec](stringComparer{})
		for _, k := range keys {
			sb.Set(k, v)
		}
		m := sb.Map()
		b.ReportMetric(float64(heapInUse()-before)/n, "sorted-B/key")
		runtime.KeepAlive(m)
		m = nil
		before = heapInUse()
		tx := iradix.New().Txn()
		for _, k := range keys {
			tx.Insert([]byte(k), v)
		}
		t := tx.Commit()
		b.ReportMetric(float64(heapInUse()-before)/n, "radix-B/key")
		runtime.KeepAlive(t)
	}
}
