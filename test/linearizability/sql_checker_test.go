package linearizability

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The SQL register history is checked on its own (history "sql-register"),
// with the register model: a stale SELECT, a conditional UPDATE that took
// although the row had changed, and one refused although it had not must
// be rejected; SQL and KV registers of the same name never mix.
func TestCheckerSQLRegister(t *testing.T) {
	op := func(c int, call, ret int64, in RegInput, out RegOutput) Op {
		return Op{Client: c, Call: call, Return: ret, Input: SQLRegInput{in}, Output: out}
	}
	update := func(c int, call, ret int64, v string) Op {
		return op(c, call, ret, RegInput{Op: "put", Key: "sql/0", Value: v}, RegOutput{})
	}
	sel := func(c int, call, ret int64, v string) Op {
		return op(c, call, ret, RegInput{Op: "get", Key: "sql/0"}, RegOutput{Value: v})
	}
	cas := func(c int, call, ret int64, expect, v string, ok bool) Op {
		return op(c, call, ret, RegInput{Op: "cas", Key: "sql/0", Value: v, Expect: expect}, RegOutput{OK: ok})
	}
	unknown := func(c int, call int64, v string) Op {
		return Op{Client: c, Call: call, Unknown: true, Input: SQLRegInput{RegInput{Op: "put", Key: "sql/0", Value: v}}, Output: RegOutput{Unknown: true}}
	}
	kvPut := Op{Client: 9, Call: 1, Return: 2, Input: RegInput{Op: "put", Key: "sql/0", Value: "kv"}, Output: RegOutput{Rev: 3}}
	cases := []struct {
		name string
		ops  []Op
		ok   bool
	}{
		{"initial empty row", []Op{sel(0, 1, 2, ""), update(0, 3, 4, "a"), sel(1, 5, 6, "a")}, true},
		{"stale select", []Op{update(0, 1, 2, "a"), update(0, 3, 4, "b"), sel(1, 5, 6, "a")}, false},
		{"cas took on a changed row", []Op{update(0, 1, 2, "a"), update(0, 3, 4, "b"), cas(1, 5, 6, "a", "c", true)}, false},
		{"cas refused on an unchanged row", []Op{update(0, 1, 2, "a"), cas(1, 3, 4, "a", "c", false)}, false},
		{"cas by rows_affected", []Op{update(0, 1, 2, "a"), cas(1, 3, 4, "a", "c", true), sel(2, 5, 6, "c")}, true},
		{"unknown update applies late", []Op{unknown(0, 1, "a"), sel(1, 3, 4, ""), sel(1, 5, 6, "a")}, true},
		{"kv register of the same name is another history", []Op{kvPut, sel(1, 3, 4, "")}, true},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Check("sql-"+strings.ReplaceAll(tc.name, " ", "-"), dir, tc.ops, nil, -1)
			if got := len(v.Violations) == 0; got != tc.ok {
				t.Fatalf("linearizable = %v, want %v (violations %v)", got, tc.ok, v.Violations)
			}
			if !tc.ok && !strings.HasPrefix(v.Violations[0], "sql-register history") {
				t.Errorf("violation %q, want it in the sql-register history", v.Violations[0])
			}
		})
	}
}

// fakeSQLCluster answers the durability read with fixed tags.
type fakeSQLCluster struct{ addr string }

func (f fakeSQLCluster) Endpoints() []string { return []string{f.addr} }
func (fakeSQLCluster) Inject(context.Context, Fault) (string, func(context.Context) error, error) {
	return "", nil, ErrUnsupported
}
func (fakeSQLCluster) Heal(context.Context) error     { return nil }
func (fakeSQLCluster) CrashAll(context.Context) error { return nil }

// An acknowledged insert missing after the run is a lost write, a tag
// present twice (a command applied twice) and the clients' own anomalies
// are violations, and a workload that never reached the SQL API fails.
func TestCheckSQLDurability(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/db/query" || r.URL.Query().Get("level") != "linearizable" {
			http.Error(w, `{"error":"unexpected request"}`, http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"results":[{"columns":["tag"],"types":["text"],"values":[["a"],["c"],["c"],["u"]]}]}`)
	}))
	defer srv.Close()
	c := fakeSQLCluster{addr: strings.TrimPrefix(srv.URL, "http://")}
	s := Scenario{Name: "fake", Workload: Workload{SQLClients: 1}}
	r := &run{}
	r.sql.acked, r.sql.ops, r.sql.bad = []string{"a", "b", "c"}, 10, []string{"UPDATE of register row 1 to \"x\" affected 0 rows, want 1"}
	var rep Report
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	checkSQL(ctx, t, s, c, r, &rep)
	if len(rep.Lost) != 1 || rep.Lost[0] != sqlDurTable+":b" {
		t.Errorf("lost %v, want only b", rep.Lost)
	}
	if rep.Acked != 3 {
		t.Errorf("acked %d, want 3", rep.Acked)
	}
	want := []string{"SQL insert of c applied 2 times", "UPDATE of register row 1"}
	if len(rep.Verdict.Violations) != 2 || !strings.HasPrefix(rep.Verdict.Violations[0], want[0]) || !strings.HasPrefix(rep.Verdict.Violations[1], want[1]) {
		t.Errorf("violations %q, want %q", rep.Verdict.Violations, want)
	}

	ft := &recordingTB{TB: t}
	checkSQL(ctx, ft, s, c, &run{}, &Report{})
	if !ft.failed {
		t.Error("a SQL workload without a single operation passed")
	}
}

// recordingTB records Errorf instead of failing the test.
type recordingTB struct {
	testing.TB
	failed bool
}

func (r *recordingTB) Errorf(format string, args ...any) { r.failed = true }
func (r *recordingTB) Helper()                           {}
