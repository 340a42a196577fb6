package compare

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/concord-db/concord/bench"
)

func TestParseDqliteResult(t *testing.T) {
	f, err := os.Open("testdata/dqlite-result.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parseDqliteResult(f)
	if err != nil {
		t.Fatal(err)
	}
	if res.n != 3 || res.nErr != 2 || len(res.ms) != 3 || res.errs["database is locked"] != 1 || res.errs["context deadline exceeded"] != 1 {
		t.Errorf("parsed %+v", res)
	}
	if l := latencyOf(res.ms); l.P50 != 2 || l.Max != 3 || l.Mean != 2 {
		t.Errorf("latency %+v", l)
	}
	// A truncated file (counts that do not match the lines) is an error,
	// not a smaller result.
	b, _ := os.ReadFile("testdata/dqlite-result.txt")
	cut := string(b[:bytes.Index(b, []byte("1796362662729520013"))])
	if _, err := parseDqliteResult(strings.NewReader(cut)); err == nil {
		t.Error("truncated result file accepted")
	}
	if _, err := parseDqliteResult(strings.NewReader("n x\n")); err == nil {
		t.Error("bad count accepted")
	}
}

func sqlRun(workload, cluster string, tput float64) Run {
	return Run{Workload: workload, Cluster: cluster, Report: &bench.Report{Throughput: tput, Latency: bench.Latency{P50: 1, P99: 2}}}
}

func TestSQLTable(t *testing.T) {
	var wls []SQLWorkload
	for _, w := range SQLWorkloads() {
		if w.Name == "put-64" || w.Name == "sql-insert-64" || w.Name == "sql-query-lin-64" {
			wls = append(wls, w)
		}
	}
	res := &SQLResults{Workloads: wls, Config: map[string]string{"reps": "1", "duration": "5s", "warmup": "1s"}, Runs: []Run{
		sqlRun("put-64", "concord", 10000), sqlRun("sql-insert-64", "concord", 8000), sqlRun("sql-insert-64", "dqlite", 100),
		sqlRun("sql-query-lin-64", "concord", 7000),
	}}
	res.Runs[2].Report.Errors, res.Runs[2].Report.ErrorsByKind = 5, map[string]int64{"database is locked": 5}
	var b bytes.Buffer
	if err := WriteSQLTable(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| sql-insert, 64 clients | 8000 | 1.00 | 2.00 | 0 | 0.80 | 100 | 1.00 | 2.00 | 5 | 80.00 |",
		"| KV put, 64 clients | 10000 | 1.00 | 2.00 | 0 | – | – | – | – | – | – |",
		`5 × "database is locked"`,
		"sql-insert-64 vs KV put-64: 8000 vs KV put 10000 = 0.80x (target ≥ 0.7x): met",
		"sql-insert-64 vs rqlite: 8000 vs rqlite 2000 = 4.00x (target ≥ 3x): met",
		"sql-insert-64 vs dqlite: 8000 vs dqlite 100 = 80.00x (target ≥ 1x): met",
		"sql-query linearizable-64 vs rqlite: 7000 vs rqlite 3700 = 1.89x (target ≥ 2x): MISSED",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// The dqlite result parser reads files another program wrote: it never
// panics, and what it accepts has counts matching its lines.
func FuzzParseDqliteResult(f *testing.F) {
	b, err := os.ReadFile("testdata/dqlite-result.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("n 0\nn_err 0\nmeasurements [timestamp in ns] [ms]\nerrors\n")
	f.Add("n 1\nmeasurements\n1 x\n")
	f.Fuzz(func(t *testing.T, s string) {
		res, err := parseDqliteResult(strings.NewReader(s))
		if err != nil {
			return
		}
		var nerr int64
		for _, v := range res.errs {
			nerr += v
		}
		if int64(len(res.ms)) != res.n || nerr != res.nErr {
			t.Fatalf("accepted %q with mismatched counts: %+v", s, res)
		}
		latencyOf(res.ms)
	})
}
