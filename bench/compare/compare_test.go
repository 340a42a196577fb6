package compare

import (
	"bytes"
	"encoding/json"
	"os"
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

// sampleResults is a finished comparison of put-64 against the baseline
// cluster key base, with a memory check.
func sampleResults(base string) *Results {
	runs := []Run{
		run(base, 1000, 40, 10, 20000), run(base, 3000, 20, 10, 10000), run(base, 2000, 30, 10, 10000),
		run(ClusterConcord, 4000, 10, 2, 40000), run(ClusterConcord, 6000, 30, 2, 40000), run(ClusterConcord, 5000, 20, 2, 40000),
	}
	return &Results{Runs: runs, Workloads: []Workload{{Name: "put-64", Label: "put, 64 clients"}},
		Config:     map[string]string{"reps": "3", "duration": "10s", "warmup": "2s"},
		Versions:   map[string]string{ClusterConcord: "concord dev 222222222222", base: "concord dev 111111111111"},
		PeakRSSMiB: map[string]float64{base: 90, ClusterConcord: 50},
		Memory:     map[string][]float64{base: {100, 110, 120}, ClusterConcord: {50, 55, 60}},
		MemoryHWM:  map[string][]float64{base: {1, 2, 3}, ClusterConcord: {4, 5, 6}},
		MemoryAnon: map[string][]float64{base: {40, 40, 40}, ClusterConcord: {30, 30, 30}}, MemKeys: 1000}
}

// The etcd comparison's table stays byte for byte what it was before the
// baseline could be a concord build (testdata/table-etcd.md was written by
// the code before that change).
func TestTableEtcdUnchanged(t *testing.T) {
	want, err := os.ReadFile("testdata/table-etcd.md")
	if err != nil {
		t.Fatal(err)
	}
	res := sampleResults(ClusterEtcd)
	var b bytes.Buffer
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("etcd table changed:\n%s\nwant:\n%s", b.String(), want)
	}
}

// With a baseline concord build, the table and the JSON name it by its
// label (or the key "baseline"), never "etcd", and the ratios are
// concord/baseline.
func TestBaselineConcordLabels(t *testing.T) {
	res := sampleResults(ClusterBaseline)
	res.BaselineLabel = "a8d365b"
	var b bytes.Buffer
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	table := b.String()
	for _, want := range []string{
		"concord vs baseline concord build a8d365b, three members each",
		"ratio = concord/a8d365b.",
		"Builds: concord = concord dev 222222222222; a8d365b = concord dev 111111111111.",
		"| workload | a8d365b ops/s | concord ops/s | ratio | a8d365b p50 ms |",
		"| errors a8d365b/concord |",
		"| put, 64 clients | 2000 | 5000 | 2.50 | 15.00 | 10.00 | 30.00 | 20.00 | 0.67 | 10.00 | 0.50 | 0.05 | 0/0 |",
		"a8d365b 90 MiB, concord 50 MiB",
		"| member | a8d365b RSS | concord RSS |",
		"| 2 | 110 | 55 | 0.50 | 40 | 30 | 0.75 | 2 | 5 |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "etcd") {
		t.Errorf("baseline table mentions etcd:\n%s", table)
	}

	j, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		BaselineLabel string `json:"baseline_label"`
		Runs          []struct{ Cluster string }
		PeakRSS       map[string]float64 `json:"peak_rss_mib"`
	}
	if err := json.Unmarshal(j, &got); err != nil {
		t.Fatal(err)
	}
	if got.BaselineLabel != "a8d365b" || got.Runs[0].Cluster != ClusterBaseline || got.PeakRSS[ClusterBaseline] != 90 {
		t.Errorf("JSON %s", j)
	}
	if strings.Contains(string(j), "etcd") {
		t.Errorf("baseline JSON mentions etcd: %s", j)
	}
	if j, _ := json.Marshal(sampleResults(ClusterEtcd)); strings.Contains(string(j), "baseline") {
		t.Errorf("etcd JSON mentions a baseline: %s", j)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{}, ""},
		{Config{BaselineConcordBin: "/a/concord"}, ""},
		{Config{BaselineConcordBin: "/a/concord", BaselineLabel: "a8d365b"}, ""},
		{Config{BaselineLabel: "a8d365b"}, "needs a baseline concord binary"},
		{Config{BaselineConcordBin: "/a/concord", BaselineLabel: "concord"}, "both clusters the same"},
	} {
		cfg := tc.cfg
		cfg.defaults()
		err := cfg.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	cfg := Config{BaselineConcordBin: "/a/concord"}
	cfg.defaults()
	if cfg.BaselineLabel != ClusterBaseline {
		t.Errorf("default baseline label %q", cfg.BaselineLabel)
	}
}
