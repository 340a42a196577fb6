package server

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	gmprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// newGmpromMetrics is EnableRaftMetrics as it was with go-metrics'
// PrometheusSink, without setting the global: the reference for raftSink.
func newGmpromMetrics(t testing.TB) (*gometrics.Metrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	sink, err := gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{
		Registerer: reg, Expiration: time.Minute, Name: "concord_raft_sink",
	})
	if err != nil {
		t.Fatal(err)
	}
	conf := gometrics.DefaultConfig("concord")
	conf.EnableHostname = false
	conf.EnableRuntimeMetrics = false
	conf.EnableServiceLabel = false
	m, err := gometrics.New(conf, sink)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// newSinkMetrics is EnableRaftMetrics without setting the global.
func newSinkMetrics(t testing.TB, expiration time.Duration) (*gometrics.Metrics, *raftSink, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	sink := newRaftSink("concord", "concord_raft_sink", expiration)
	reg.MustRegister(sink)
	m, err := gometrics.New(raftMetricsConfig(), sink)
	if err != nil {
		t.Fatal(err)
	}
	return m, sink, reg
}

// feed makes the calls raft makes, and the awkward ones: names with
// characters PrometheusSink replaces, labels, two spellings of one name, a
// negative counter increment, EmitKey.
func feed(m *gometrics.Metrics) {
	peers := []gometrics.Label{{Name: "peer_id", Value: "node-2"}}
	for i := range 100 {
		m.IncrCounter([]string{"raft", "apply"}, 1)
		m.AddSample([]string{"raft", "commitTime"}, float32(i%17)/4)
		m.AddSampleWithLabels([]string{"raft", "replication", "appendEntries", "rpc"}, float32(i), peers)
		m.AddSample([]string{"raft", "replication", "appendEntries", "rpc", "node-2"}, float32(i))
		m.IncrCounterWithLabels([]string{"raft", "replication", "appendEntries", "logs"}, float32(i%3), peers)
		m.SetGauge([]string{"raft", "commitNumLogs"}, float32(i))
	}
	m.SetGaugeWithLabels([]string{"raft", "peers"}, 3, []gometrics.Label{{Name: "a", Value: "x"}, {Name: "b", Value: "y"}})
	m.SetPrecisionGauge([]string{"raft", "fsm", "lastRestoreDuration"}, 1.0000001)
	m.IncrCounter([]string{"raft", "a b", "c=d", "e/f"}, 2.5)
	m.IncrCounter([]string{"raft", "x.y"}, 1)
	m.IncrCounter([]string{"raft", "x", "y"}, 2)
	m.IncrCounter([]string{"raft", "apply"}, -1)
	m.EmitKey([]string{"raft", "emitted"}, 1)
}

// dump renders what g gathers: names, types, help, labels, values, summary
// counts, sums and quantiles.
func dump(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		fmt.Fprintf(&b, "%s %s %q\n", mf.GetName(), mf.GetType(), mf.GetHelp())
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				fmt.Fprintf(&b, " %s=%q", l.GetName(), l.GetValue())
			}
			fmt.Fprintf(&b, " gauge=%g counter=%g", m.GetGauge().GetValue(), m.GetCounter().GetValue())
			if s := m.GetSummary(); s != nil {
				fmt.Fprintf(&b, " count=%d sum=%g", s.GetSampleCount(), s.GetSampleSum())
				for _, q := range s.GetQuantile() {
					fmt.Fprintf(&b, " q%g=%g", q.GetQuantile(), q.GetValue())
				}
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func TestRaftSinkMatchesPrometheusSink(t *testing.T) {
	want, wantReg := newGmpromMetrics(t)
	got, _, gotReg := newSinkMetrics(t, time.Minute)
	feed(want)
	feed(got)
	w, g := dump(t, wantReg), dump(t, gotReg)
	if g != w {
		t.Errorf("raftSink exports\n%s\nPrometheusSink exports\n%s", g, w)
	}
	if n := strings.Count(w, "\n"); n < 15 {
		t.Errorf("only %d lines gathered:\n%s", n, w)
	}
}

// TestRaftSinkNames pins the exported names, types and help: dashboards
// depend on them, whatever PrometheusSink does in later versions.
func TestRaftSinkNames(t *testing.T) {
	m, _, reg := newSinkMetrics(t, time.Minute)
	for _, v := range []float32{1, 2, 3} {
		m.AddSample([]string{"raft", "commitTime"}, v)
	}
	m.IncrCounter([]string{"raft", "apply"}, 2)
	m.IncrCounterWithLabels([]string{"raft", "replication", "appendEntries", "logs"}, 4,
		[]gometrics.Label{{Name: "peer_id", Value: "node-2"}})
	m.SetGauge([]string{"raft", "a b", "c=d", "e/f", "node-2"}, 7)
	const want = `concord_raft_a_b_c_d_e_f_node_2 GAUGE "concord_raft_a_b_c_d_e_f_node_2"
 gauge=7 counter=0
concord_raft_apply COUNTER "concord_raft_apply"
 gauge=0 counter=2
concord_raft_commitTime SUMMARY "concord_raft_commitTime"
 gauge=0 counter=0 count=3 sum=6 q0.5=2 q0.9=3 q0.99=3
concord_raft_replication_appendEntries_logs COUNTER "concord_raft_replication_appendEntries_logs"
 peer_id="node-2" gauge=0 counter=4
`
	if got := dump(t, reg); got != want {
		t.Errorf("gathered\n%s\nwant\n%s", got, want)
	}
}

func TestEnableRaftMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := EnableRaftMetrics(reg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gometrics.NewGlobal(&gometrics.Config{}, &gometrics.BlackholeSink{}) })
	gometrics.IncrCounter([]string{"raft", "test", "enable"}, 1)
	if d := dump(t, reg); d != "concord_raft_test_enable COUNTER \"concord_raft_test_enable\"\n gauge=0 counter=1\n" {
		t.Errorf("gathered\n%s", d)
	}
}

func TestRaftSinkExpiry(t *testing.T) {
	m, sink, reg := newSinkMetrics(t, time.Minute)
	t0 := time.Unix(1000, 0)
	now := t0
	sink.now = func() time.Time { return now }
	gather := func(at time.Duration) string {
		now = t0.Add(at)
		return dump(t, reg)
	}
	m.IncrCounter([]string{"raft", "apply"}, 1)
	m.SetGauge([]string{"raft", "peers"}, 3)
	m.AddSample([]string{"raft", "commitTime"}, 1)
	if d := gather(30 * time.Second); strings.Count(d, "\n") != 6 {
		t.Fatalf("at 30s:\n%s", d)
	}
	m.IncrCounter([]string{"raft", "apply"}, 1)
	if d := gather(61 * time.Second); d != "concord_raft_apply COUNTER \"concord_raft_apply\"\n gauge=0 counter=2\n" {
		t.Fatalf("at 61s, only the updated counter should be left:\n%s", d)
	}
	if d := gather(121 * time.Second); !strings.Contains(d, "counter=2") {
		t.Fatalf("at 121s, 60s after the Collect that saw the update:\n%s", d)
	}
	if d := gather(122 * time.Second); d != "" {
		t.Fatalf("at 122s, everything should have expired:\n%s", d)
	}
	m.IncrCounter([]string{"raft", "apply"}, 5)
	if d := gather(123 * time.Second); d != "concord_raft_apply COUNTER \"concord_raft_apply\"\n gauge=0 counter=5\n" {
		t.Fatalf("an expired counter should start again:\n%s", d)
	}
}

func TestRaftSinkNoExpiry(t *testing.T) {
	m, sink, reg := newSinkMetrics(t, 0)
	sink.now = func() time.Time { return time.Unix(0, 0).Add(1000 * time.Hour) }
	m.IncrCounter([]string{"raft", "apply"}, 1)
	if d := dump(t, reg); !strings.Contains(d, "counter=1") {
		t.Errorf("with no expiration, the counter should stay:\n%s", d)
	}
}

// TestRaftSinkConcurrent updates, creates and gathers series from several
// goroutines (run with -race); no update may be lost.
func TestRaftSinkConcurrent(t *testing.T) {
	const workers, rounds, keys = 4, 2000, 10
	m, _, reg := newSinkMetrics(t, 0)
	done := make(chan struct{})
	var gathers sync.WaitGroup
	gathers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				k := fmt.Sprint("k", (i+w)%keys)
				m.IncrCounter([]string{"raft", k}, 1)
				m.IncrCounterWithLabels([]string{"raft", "l"}, 1, []gometrics.Label{{Name: "k", Value: k}})
				m.AddSample([]string{"raft", "s", k}, 1)
				m.SetGauge([]string{"raft", "g", k}, float32(i))
			}
		})
	}
	wg.Wait()
	close(done)
	gathers.Wait()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var counted, sampled float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			counted += m.GetCounter().GetValue()
			sampled += m.GetSummary().GetSampleSum()
		}
	}
	if want := float64(2 * workers * rounds); counted != want || sampled != want/2 {
		t.Errorf("counters sum to %g, samples to %g; want %g and %g", counted, sampled, want, want/2)
	}
}

// TestRaftSinkConcurrentExpiry expires every idle series on each gather
// while other goroutines update and create them (run with -race).
func TestRaftSinkConcurrentExpiry(t *testing.T) {
	m, sink, reg := newSinkMetrics(t, time.Minute)
	var clock atomic.Int64
	sink.now = func() time.Time { return time.Unix(0, clock.Add(int64(time.Hour))) }
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				m.IncrCounter([]string{"raft", fmt.Sprint("k", (i+w)%7)}, 1)
				m.AddSample([]string{"raft", fmt.Sprint("s", (i+w)%5)}, 1)
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	m.IncrCounter([]string{"raft", "k0"}, 1)
	m.IncrCounter([]string{"raft", "k0"}, 1)
	dump(t, reg) // stamps k0's update
	dump(t, reg) // an hour later: expires everything
	sink.now = func() time.Time { return time.Unix(0, clock.Load()) }
	m.IncrCounter([]string{"raft", "k0"}, 3)
	if d := dump(t, reg); d != "concord_raft_k0 COUNTER \"concord_raft_k0\"\n gauge=0 counter=3\n" {
		t.Errorf("after expiry:\n%s", d)
	}
}

// TestRaftSinkNoAllocs checks that updating an existing series allocates
// nothing (go-metrics itself still copies labels).
func TestRaftSinkNoAllocs(t *testing.T) {
	_, sink, _ := newSinkMetrics(t, time.Minute)
	key := []string{"concord", "raft", "commitTime"}
	labels := []gometrics.Label{{Name: "peer_id", Value: "node2"}}
	update := func() {
		sink.AddSample(key, 1)
		sink.IncrCounterWithLabels(key, 1, labels)
		sink.SetGauge(key, 1)
	}
	update()
	if n := testing.AllocsPerRun(100, update); n != 0 {
		t.Errorf("%v allocations per update", n)
	}
}
