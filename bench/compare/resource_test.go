package compare

import (
	"bytes"
	"strings"
	"testing"

	"github.com/concord-db/concord/bench"
)

// TestResourceTable checks the resource comparison's table and its
// verdicts: ratios to the KV lines of the same run, conflicts summed over
// runs, the watch judged by its write→event p99, not its write latency.
func TestResourceTable(t *testing.T) {
	res := &ResourceResults{Workloads: ResourceWorkloads(), Config: map[string]string{"reps": "1", "duration": "5s", "warmup": "1s"}, Runs: []Run{
		sqlRun("put-64", "concord", 10000), sqlRun("get-lin-64", "concord", 20000), sqlRun("txn-cas-64", "concord", 5000),
		sqlRun("resource-write-64", "concord", 6000), sqlRun("resource-write-owned-64", "concord", 9000),
		sqlRun("resource-read-strong-64", "concord", 17000), sqlRun("resource-read-eventual-64", "concord", 25000),
		{Workload: "resource-watch", Cluster: "concord", Report: &bench.Report{Throughput: 100, Latency: bench.Latency{P50: 1, P99: 2},
			Watch: &bench.WatchStats{Latency: bench.Latency{P50: 40, P99: 150}}}},
	}}
	res.Runs[3].Report.Conflicts = 7
	var b bytes.Buffer
	if err := WriteResourceTable(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| 6000 | 1.00 | 2.00 | 0 | 7 |",
		"CAS write (resource-write-owned-64: one guarded write per operation) vs KV put-64: 9000 vs KV put 10000 = 0.90x (target ≥ 0.8x): met",
		"read-modify-write (resource-write-64: an eventual read, then a guarded write; two requests per operation) vs KV put-64: 0.60x; vs KV txn-cas-64 (the same read-then-guarded-write on KV): 1.20x",
		"resource-read strong-64 vs KV get linearizable-64: 17000 vs KV get 20000 = 0.85x (target ≥ 0.8x): met",
		"write→event p99 150.0 ms (target < 100 ms): MISSED",
		"| 100 | 40.00 | 150.00 |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestRepRatios: the spread of a ratio is taken over repetitions that
// measured both workloads, pairing each repetition with itself.
func TestRepRatios(t *testing.T) {
	run := func(w string, rep int, tput float64) Run {
		r := sqlRun(w, ClusterConcord, tput)
		r.Rep = rep
		return r
	}
	runs := []Run{run("a", 0, 90), run("b", 0, 100), run("a", 1, 70), run("b", 1, 100), run("a", 2, 50), run("b", 3, 10)}
	if got, want := repRatios(runs, "a", "b"), " (repetitions 0.70–0.90)"; got != want {
		t.Errorf("repRatios = %q, want %q", got, want)
	}
	if got := repRatios(runs[:2], "a", "b"); got != "" {
		t.Errorf("one repetition: %q, want none", got)
	}
}

// TestRepOrderAlternates: every other repetition runs the workloads in
// reverse, so none always runs right after another (put-64's compaction
// and the snapshots its log growth brings would land on the same one).
func TestRepOrderAlternates(t *testing.T) {
	ws := []Workload{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	names := func(ws []Workload) (s string) {
		for _, w := range ws {
			s += w.Name
		}
		return s
	}
	for rep, want := range []string{"abc", "cba", "abc", "cba"} {
		if got := names(repOrder(ws, rep)); got != want {
			t.Errorf("rep %d: order %s, want %s", rep, got, want)
		}
	}
	if names(ws) != "abc" {
		t.Errorf("repOrder changed its argument: %s", names(ws))
	}
}

// TestResourceTargetPairsRunBackToBack: each of issue 12's ratios compares
// two workloads that run one right after the other, in either order.
func TestResourceTargetPairsRunBackToBack(t *testing.T) {
	ws := ResourceWorkloads()
	pos := map[string]int{}
	for i, w := range ws {
		pos[w.Name] = i
	}
	for _, pair := range [][2]string{{"put-64", "resource-write-owned-64"}, {"get-lin-64", "resource-read-strong-64"}} {
		a, okA := pos[pair[0]]
		b, okB := pos[pair[1]]
		if !okA || !okB || b-a != 1 {
			t.Errorf("%s runs at %d and %s at %d: want them back to back", pair[0], a, pair[1], b)
		}
	}
}
