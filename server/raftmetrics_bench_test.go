package server

import (
	"testing"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
)

// BenchmarkRaftMetrics measures raft's hot-path calls through go-metrics,
// into go-metrics' PrometheusSink and into raftSink, from b.N goroutines
// per -cpu.
func BenchmarkRaftMetrics(b *testing.B) {
	sinks := []struct {
		name string
		new  func(testing.TB) *gometrics.Metrics
	}{
		{"gmprom", func(tb testing.TB) *gometrics.Metrics { m, _ := newGmpromMetrics(tb); return m }},
		{"raftSink", func(tb testing.TB) *gometrics.Metrics { m, _, _ := newSinkMetrics(tb, time.Minute); return m }},
	}
	peers := []gometrics.Label{{Name: "peer_id", Value: "node2"}}
	calls := []struct {
		name string
		call func(*gometrics.Metrics, time.Time)
	}{
		{"MeasureSince", func(m *gometrics.Metrics, start time.Time) {
			m.MeasureSince([]string{"raft", "commitTime"}, start)
		}},
		{"IncrCounter", func(m *gometrics.Metrics, _ time.Time) {
			m.IncrCounter([]string{"raft", "apply"}, 1)
		}},
		{"IncrCounterWithLabels", func(m *gometrics.Metrics, _ time.Time) {
			m.IncrCounterWithLabels([]string{"raft", "replication", "appendEntries", "logs"}, 1, peers)
		}},
	}
	for _, c := range calls {
		for _, s := range sinks {
			b.Run(c.name+"/"+s.name, func(b *testing.B) {
				m := s.new(b)
				start := time.Now()
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c.call(m, start)
					}
				})
			})
		}
	}
}
