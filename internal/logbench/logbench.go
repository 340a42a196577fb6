// Package logbench holds the raft log store benchmarks that node/logstore
// and node/wal both run, so the two stores are measured the same way.
package logbench

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// Batch returns a batch of 64 entries of 300 bytes from index from, the
// shape of a busy leader's append.
func Batch(from uint64) []*raft.Log {
	batch := make([]*raft.Log, 64)
	data := bytes.Repeat([]byte("x"), 300)
	for i := range batch {
		batch[i] = &raft.Log{Index: from + uint64(i), Term: 1, Type: raft.LogCommand, Data: data}
	}
	return batch
}

// StoreLogs appends Batches to an empty store and reports the process's
// CPU time per batch (what the store costs a member, apart from waiting
// for the disk) as cpu-ns/op.
func StoreLogs(b *testing.B, s raft.LogStore) {
	b.SetBytes(64 * 300)
	b.ReportAllocs()
	cpu := cpuTime()
	next := uint64(1)
	for b.Loop() {
		if err := s.StoreLogs(Batch(next)); err != nil {
			b.Fatal(err)
		}
		next += 64
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// GetLog fills an empty store with 64 Ki entries of 300 bytes and reads
// them in a stride that crosses segments and pages.
func GetLog(b *testing.B, s raft.LogStore) {
	const n = 1 << 16
	for i := uint64(1); i <= n; i += 64 {
		if err := s.StoreLogs(Batch(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var e raft.Log
	i := uint64(0)
	for b.Loop() {
		if err := s.GetLog(i%n+1, &e); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
