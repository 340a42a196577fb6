package compare

import (
	"bytes"
	"strings"
	"testing"

	"github.com/concord-db/concord/bench"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 are utime and stime, in clock ticks; the command
	// name may contain spaces and parentheses.
	stat := "4242 (etcd (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 250 75 0 0 20 0 12 0 100 1000000 5000 18446744073709551615"
	if got := parseStatCPU(stat); got != 3.25 {
		t.Errorf("parseStatCPU = %g, want 3.25", got)
	}
	if got := parseStatCPU("garbage"); got != 0 {
		t.Errorf("parseStatCPU(garbage) = %g", got)
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tetcd\nVmPeak:\t  999 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   51200 kB\nRssFile:\t   51200 kB\nThreads:\t12\n"
	if m := parseStatus(status); m != (procMem{RSS: 102400, HWM: 204800, Anon: 51200}) {
		t.Errorf("parseStatus = %+v", m)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.v); got != tc.want {
			t.Errorf("median(%v) = %g, want %g", tc.v, got, tc.want)
		}
	}
}

func run(cluster string, tput, p99 float64, cpu float64, ops int64) Run {
	return Run{Workload: "put-64", Cluster: cluster, CPUSeconds: cpu, Ops: ops,
		Report: &bench.Report{Throughput: tput, Latency: bench.Latency{P50: p99 / 2, P99: p99}}}
}

func TestSummarizeAndTable(t *testing.T) {
	runs := []Run{
		run("etcd", 1000, 40, 10, 20000), run("etcd", 3000, 20, 10, 10000), run("etcd", 2000, 30, 10, 10000),
		run("concord", 4000, 10, 2, 40000), run("concord", 6000, 30, 2, 40000), run("concord", 5000, 20, 2, 40000),
		{Workload: "put-64", Cluster: "concord", Err: "boom"}, // failed runs do not count
	}
	e := Summarize(runs, "put-64", "etcd")
	if e.Runs != 3 || e.Throughput != 2000 || e.P99 != 30 || e.CPUPer10k != 10 {
		t.Errorf("etcd summary %+v", e)
	}
	c := Summarize(runs, "put-64", "concord")
	if c.Runs != 3 || c.Throughput != 5000 || c.P99 != 20 || c.CPUPer10k != 0.5 {
		t.Errorf("concord summary %+v", c)
	}
	res := &Results{Runs: runs, Workloads: []Workload{{Name: "put-64", Label: "put, 64 clients"}},
		Config: map[string]string{"reps": "3", "duration": "10s", "warmup": "2s"}, PeakRSSMiB: map[string]float64{"etcd": 90, "concord": 50},
		Memory: map[string][]float64{"etcd": {100, 110, 120}, "concord": {50, 55, 60}}, MemoryHWM: map[string][]float64{"etcd": {1, 2, 3}, "concord": {4, 5, 6}},
		MemoryAnon: map[string][]float64{"etcd": {40, 40, 40}, "concord": {30, 30, 30}}, MemKeys: 1000}
	var b bytes.Buffer
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| put, 64 clients | 2000 | 5000 | 2.50 | 15.00 | 10.00 | 30.00 | 20.00 | 0.67 | 10.00 | 0.50 | 0.05 | 0/0 |",
		"etcd 90 MiB, concord 50 MiB",
		"| 2 | 110 | 55 | 0.50 | 40 | 30 | 0.75 | 2 | 5 |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRotate(t *testing.T) {
	eps := []string{"a", "b", "c"}
	for n, want := range []string{"abc", "bca", "cab", "abc"} {
		if got := strings.Join(rotate(eps, n), ""); got != want {
			t.Errorf("rotate(%d) = %s, want %s", n, got, want)
		}
	}
	if strings.Join(eps, "") != "abc" {
		t.Error("rotate changed its input")
	}
}
