package wal

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftbench "github.com/hashicorp/raft/bench"
)

// benchBatch returns a batch of 64 entries of 300 bytes from index from,
// the shape of a busy leader's append.
func benchBatch(from uint64) []*raft.Log {
	batch := make([]*raft.Log, 64)
	data := bytes.Repeat([]byte("x"), 300)
	for i := range batch {
		batch[i] = &raft.Log{Index: from + uint64(i), Term: 1, Type: raft.LogCommand, Data: data}
	}
	return batch
}

// BenchmarkStoreLogs appends batches of 64 300-byte entries with real
// fdatasyncs in a temporary directory, and reports the syncs per batch.
func BenchmarkStoreLogs(b *testing.B) {
	l, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetBytes(64 * 300)
	b.ReportAllocs()
	before, cpu := syncs.Load(), cpuTime()
	next := uint64(1)
	for b.Loop() {
		if err := l.StoreLogs(benchBatch(next)); err != nil {
			b.Fatal(err)
		}
		next += 64
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(syncs.Load()-before)/float64(b.N), "fsyncs/op")
}

// cpuTime is the process's user plus system CPU time: what the log costs
// the member, apart from waiting for the disk.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGetLog reads 300-byte entries from a log of 64 Ki entries.
func BenchmarkGetLog(b *testing.B) {
	l, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const n = 1 << 16
	for i := uint64(1); i <= n; i += 64 {
		if err := l.StoreLogs(benchBatch(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var e raft.Log
	i := uint64(0)
	for b.Loop() {
		if err := l.GetLog(i%n+1, &e); err != nil {
			b.Fatal(err)
		}
		i += 7919 // stride over segments and pages
	}
}

// BenchmarkRaft runs hashicorp/raft's own store benchmarks (raft/bench)
// that suit a monotonic log: its StoreLog starts at index 0 and its
// DeleteRange leaves gaps, which this log refuses by design.
func BenchmarkRaft(b *testing.B) {
	open := func(b *testing.B) *Log {
		l, err := Open(b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		return l
	}
	b.Run("FirstIndex", func(b *testing.B) { raftbench.FirstIndex(b, open(b)) })
	b.Run("LastIndex", func(b *testing.B) { raftbench.LastIndex(b, open(b)) })
	b.Run("GetLog", func(b *testing.B) { raftbench.GetLog(b, open(b)) })
	b.Run("StoreLogs", func(b *testing.B) { raftbench.StoreLogs(b, open(b)) })
	b.Run("Set", func(b *testing.B) { raftbench.Set(b, open(b)) })
	b.Run("Get", func(b *testing.B) { raftbench.Get(b, open(b)) })
	b.Run("SetUint64", func(b *testing.B) { raftbench.SetUint64(b, open(b)) })
	b.Run("GetUint64", func(b *testing.B) { raftbench.GetUint64(b, open(b)) })
}
