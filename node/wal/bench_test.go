package wal

import (
	"testing"

	"github.com/concord-db/concord/internal/logbench"
	raftbench "github.com/hashicorp/raft/bench"
)

// BenchmarkStoreLogs appends batches of 64 300-byte entries with real
// fdatasyncs in a temporary directory, and reports the syncs per batch.
func BenchmarkStoreLogs(b *testing.B) {
	l, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	before := syncs.Load()
	logbench.StoreLogs(b, l)
	b.ReportMetric(float64(syncs.Load()-before)/float64(b.N), "fsyncs/op")
}

// BenchmarkGetLog reads 300-byte entries from a log of 64 Ki entries.
func BenchmarkGetLog(b *testing.B) {
	l, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	logbench.GetLog(b, l)
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
