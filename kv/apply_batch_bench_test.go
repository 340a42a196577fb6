package kv

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkApplyBatch compares applying puts one by one with Apply and in
// batches with ApplyBatch, over 10k existing keys with 256-byte values. One
// op is one command, so ns/op, B/op and allocs/op are per command.
func BenchmarkApplyBatch(b *testing.B) {
	const space = 10_000
	for _, n := range []int{1, 16, 64} {
		for _, mode := range []string{"apply", "batch"} {
			b.Run(fmt.Sprintf("%s/size=%d", mode, n), func(b *testing.B) {
				s := New(Options{})
				defer s.Close()
				r := rand.New(rand.NewSource(1))
				index := uint64(1)
				for i := 0; i < space; i += 1000 {
					s.ApplyBatch(index, putBatch(r, 1000, space))
					index++
				}
				cmds := putBatch(r, 64*64, space)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i += n {
					index++
					from := i % len(cmds)
					batch := cmds[from : from+min(n, b.N-i)]
					if mode == "batch" {
						s.ApplyBatch(index, batch)
						continue
					}
					for _, c := range batch {
						s.Apply(index, c)
					}
				}
			})
		}
	}
}
