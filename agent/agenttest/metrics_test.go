package agenttest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/internal/metricstest"
	"github.com/concord-db/concord/server"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestMetricsScrape runs one member with --pprof, drives every API (etcd
// gRPC, REST kv, SQL), a watch, a lease and a snapshot, and checks through
// a scrape of /metrics that each series the operations guide lists moves
// when its event happens. Then the Grafana dashboard and the documented
// alerts may only name series this scrape shows.
func TestMetricsScrape(t *testing.T) {
	c := agenttest.Start(t, 1, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.Pprof = true
		cfg.Version = "v0.0.0-test"
		cfg.Node.SnapshotThreshold, cfg.Node.SnapshotInterval, cfg.Node.TrailingLogs = 16, 50*time.Millisecond, 8
	}})
	base := "http://" + c.Endpoint(0)
	before := metricstest.Scrape(t, nil, base+"/metrics")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cli := c.Client()
	wctx, wcancel := context.WithCancel(ctx)
	wch := cli.Watch(wctx, "w/", clientv3.WithPrefix())
	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := cli.Put(ctx, "w/k", strings.Repeat("v", i), clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Get(ctx, "w/k"); err != nil {
		t.Fatal(err)
	}
	if resp := <-wch; resp.Err() != nil || len(resp.Events) == 0 {
		t.Fatalf("watch: %v %v", resp.Err(), resp.Events)
	}
	while := metricstest.Scrape(t, nil, base+"/metrics")
	if v := while.Must(t, "concord_kv_watchers"); v < 1 {
		t.Errorf("kv watchers with a watch open: %v", v)
	}
	wcancel()
	if _, err := cli.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	httpDo(t, "PUT", base+"/v1/kv/rest", `{"value":"x"}`, 200)
	httpDo(t, "GET", base+"/v1/kv/rest", "", 200)
	httpDo(t, "GET", base+"/v1/kv/missing", "", 404)
	httpDo(t, "POST", base+"/db/execute", `["CREATE TABLE m (v TEXT)", "INSERT INTO m VALUES ('a')"]`, 200)
	httpDo(t, "GET", base+"/db/query?q=SELECT%20*%20FROM%20m", "", 200)
	httpDo(t, "PUT", base+"/v1/resource/demo/v2/Artist/korn", `{"data": {"name": "Korn", "genre": "GENRE_METAL"}}`, 200)
	if out := httpDo(t, "GET", base+"/debug/pprof/heap?debug=1", "", 200); !strings.Contains(out, "heap profile") {
		t.Errorf("pprof heap: %.200s", out)
	}
	var st server.StatusResponse
	if err := json.Unmarshal([]byte(httpDo(t, "GET", base+"/v1/status", "", 200)), &st); err != nil || st.Version != "v0.0.0-test" {
		t.Errorf("status version %q (%v)", st.Version, err)
	}

	moves := []struct {
		name   string
		labels []string
		least  float64
	}{
		{"concord_requests_total", []string{"api", "etcd", "method", "KV/Put", "code", "OK"}, 40},
		{"concord_request_duration_seconds", []string{"api", "etcd", "method", "KV/Range"}, 1},
		{"concord_requests_total", []string{"api", "etcd", "method", "Lease/LeaseGrant"}, 1},
		{"concord_requests_total", []string{"api", "kv", "method", "GET /v1/kv/{key...}", "code", "404"}, 1},
		{"concord_request_duration_seconds", []string{"api", "kv", "method", "PUT /v1/kv/{key...}", "code", "200"}, 1},
		{"concord_requests_total", []string{"api", "sql", "method", "POST /db/execute", "code", "200"}, 1},
		{"concord_requests_total", []string{"api", "debug"}, 1},
		{"concord_requests_total", []string{"api", "resource", "code", "200"}, 1},
		{"concord_resource_resources", []string{"type", "demo.Artist"}, 1},
		{"concord_node_proposals_committed_total", nil, 42},
		{"concord_node_apply_duration_seconds", nil, 42},
		{"concord_wal_fsync_duration_seconds", nil, 1},
		{"concord_kv_watch_events_total", nil, 1},
		{"concord_kv_lease_grants_total", nil, 1},
		{"concord_kv_lease_revokes_total", nil, 1},
		{"concord_sql_statements_applied_total", nil, 2},
	}
	var m metricstest.Families
	c.WaitFor(30*time.Second, "the ended watch stream and a snapshot to show", func() bool {
		m = metricstest.Scrape(t, nil, base+"/metrics")
		w, _ := m.Value("concord_requests_total", "api", "etcd", "method", "Watch/Watch")
		s, _ := m.Value("concord_node_snapshot_duration_seconds", "op", "save")
		return w >= 1 && s >= 1
	})
	for _, mv := range moves {
		was, _ := before.Value(mv.name, mv.labels...)
		if d := m.Must(t, mv.name, mv.labels...) - was; d < mv.least {
			t.Errorf("%s%s moved by %v, want at least %v", mv.name, metricstest.Selector(mv.labels), d, mv.least)
		}
	}
	for _, name := range []string{"concord_node_leader_changes_total", "concord_node_snapshot_size_bytes"} {
		if v := m.Must(t, name); v < 1 {
			t.Errorf("%s = %v", name, v)
		}
	}

	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, m) })
	t.Run("documented series", func(t *testing.T) { checkDocumentedSeries(t, m) })
}

func httpDo(t *testing.T, method, url, body string, want int) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, out, want)
	}
	return string(out)
}

// seriesName matches the series a PromQL expression names: every one of
// concord's, Go's and the process collector's is prefixed.
var seriesName = regexp.MustCompile(`\b(?:concord|go|process)_[a-zA-Z0-9_]+`)

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
	Annos  struct {
		List []struct {
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []struct {
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"` // a collapsed row's
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// checkDashboard: deploy/grafana/concord.json is valid JSON, its panels
// have unique ids, a query each and the dashboard's data source, and every
// series its queries name is one the member exports.
func checkDashboard(t *testing.T, m metricstest.Families) {
	raw, err := os.ReadFile("../../deploy/grafana/concord.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("deploy/grafana/concord.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q", d.UID, d.Title)
	}
	var exprs []string
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if other, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("panel %q: id %d (also %q)", p.Title, p.ID, other)
			}
			ids[p.ID] = p.Title
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 || p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: %d queries, data source %+v", p.Title, len(p.Targets), p.Datasource)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has an empty query", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	for _, a := range d.Annos.List {
		exprs = append(exprs, a.Expr)
	}
	for _, v := range d.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	checkNames(t, m, "the dashboard", exprs)
	if len(ids) < 20 {
		t.Errorf("only %d panels", len(ids))
	}
}

// checkDocumentedSeries: every series docs/operations.md's Metrics section
// names (its tables and alert rules) is exported, except raft's own
// go-metrics (concord_raft_*), which only the binary bridges.
func checkDocumentedSeries(t *testing.T, m metricstest.Families) {
	raw, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(raw), "\n## Metrics\n")
	if !found {
		t.Fatal(`docs/operations.md has no "## Metrics" section`)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	if !strings.Contains(section, "alert:") {
		t.Error("the Metrics section lists no alert rules")
	}
	checkNames(t, m, "docs/operations.md (Metrics)", []string{section})
}

func checkNames(t *testing.T, m metricstest.Families, where string, texts []string) {
	t.Helper()
	var missing, seen []string
	for _, text := range texts {
		for _, name := range seriesName.FindAllString(text, -1) {
			if strings.HasPrefix(name, "concord_raft_") || slices.Contains(seen, name) {
				continue
			}
			seen = append(seen, name)
			if !m.Has(name) {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s names series the member does not export: %v", where, missing)
	}
	if len(seen) < 10 {
		t.Errorf("%s names only %d series: %v", where, len(seen), seen)
	}
}
