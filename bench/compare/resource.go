package compare

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/concord-db/concord/bench"
)

// ResourceWorkloads are the resource comparison's lines, in the order they
// run: each of issue 12's ratios next to its KV reference (puts, then CAS
// writes; linearizable gets, then strong resource reads), so that the two
// sides of a ratio run back to back and the slow drift of a long run (a
// growing log, raft snapshots, the heap) weighs on both alike; then the
// lines shown for reference and the watch fan-out.
func ResourceWorkloads() []Workload {
	read := func(c string) bench.Config {
		return bench.Config{Workload: bench.ResourceRead, Clients: 64, KeySpace: 10000, ResourceConsistency: c, Preload: true}
	}
	return []Workload{
		{"put-64", "KV put, 64 clients", bench.Config{Workload: bench.Put, Clients: 64, KeySpace: 10000}},
		{"resource-write-owned-64", "resource-write --owned-keys (CAS on the version of its own last write; 10 keys per client), 64 clients", bench.Config{Workload: bench.ResourceWrite, Clients: 64, KeySpace: 640, OwnedKeys: true}},
		{"get-lin-64", "KV get linearizable, 64 clients", bench.Config{Workload: bench.Get, Clients: 64, KeySpace: 10000, Consistency: bench.Linearizable, Preload: true}},
		{"resource-read-strong-64", "resource-read strong, 64 clients", read(bench.Strong)},
		{"resource-read-eventual-64", "resource-read eventual, 64 clients", read(bench.Eventual)},
		{"txn-cas-64", "KV txn-cas (read, then Txn guarded by mod_revision), 64 clients", bench.Config{Workload: bench.TxnCAS, Clients: 64, KeySpace: 10000}},
		{"resource-write-64", "resource-write (CAS: read, then write guarded by the version), 64 clients", bench.Config{Workload: bench.ResourceWrite, Clients: 64, KeySpace: 10000}},
		{"resource-watch", fmt.Sprintf("resource-watch: %d watchers, %d writes/s (write→event)", watchWatchers, watchRate),
			bench.Config{Workload: bench.ResourceWatch, Clients: 16, Rate: watchRate, Watchers: watchWatchers, KeySpace: 10000}},
	}
}

// ResourceResults is a whole resource comparison.
type ResourceResults struct {
	Date      string            `json:"date"`
	Versions  map[string]string `json:"versions"`
	Config    map[string]string `json:"config"`
	Runs      []Run             `json:"runs"`
	Workloads []Workload        `json:"-"`
}

// CompareResource runs the resource workloads and the KV references on one
// three-member concord of the real binary, in turn, Reps times, in reverse
// order on every other repetition (see repOrder) (cfg's
// ConcordBin, WorkDir, Reps, Duration, Warmup, Only, ProfileDir, OutDir
// and Log apply), and writes the table and issue 12's targets to out.
func CompareResource(ctx context.Context, cfg SQLConfig, out io.Writer) (*ResourceResults, error) {
	cfg.defaults()
	res := &ResourceResults{Date: time.Now().UTC().Format(time.RFC3339),
		Versions: versions(Config{ConcordBin: cfg.ConcordBin}),
		Config:   map[string]string{"reps": fmt.Sprint(cfg.Reps), "duration": cfg.Duration.String(), "warmup": cfg.Warmup.String()}}
	for _, w := range ResourceWorkloads() {
		if len(cfg.Only) == 0 || containsName(cfg.Only, w.Name) {
			res.Workloads = append(res.Workloads, w)
		}
	}
	dir := filepath.Join(cfg.WorkDir, "resource", "concord")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c, err := startConcord(cfg.ConcordBin, dir, cfg.ProfileDir != "")
	if err != nil {
		return nil, err
	}
	defer c.stop()
	if err := c.waitReady(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	logf2(cfg.Log, "concord: three members ready at %s", strings.Join(c.endpoints, ","))
	bcfg := Config{Duration: cfg.Duration, Warmup: cfg.Warmup, Log: cfg.Log}
	for rep := range cfg.Reps {
		for _, w := range repOrder(res.Workloads, rep) {
			if w.Cfg.Workload == bench.ResourceRead {
				// Preload outside the measured CPU window.
				pre := w.Cfg
				pre.Endpoints, pre.Total, pre.Duration = c.endpoints, 1, 0
				if _, err := bench.Run(ctx, pre); err != nil {
					return res, fmt.Errorf("preload resources: %w", err)
				}
			}
			run := runOne(ctx, bcfg, c, w, rep)
			if err := ctx.Err(); err != nil {
				return res, err
			}
			res.Runs = append(res.Runs, run)
			logRun(cfg.Log, rep, cfg.Reps, w.Name, ClusterConcord, run)
		}
	}
	if err := WriteResourceTable(out, res); err != nil {
		return res, err
	}
	if cfg.OutDir != "" {
		if err := writeResourceOut(cfg.OutDir, res); err != nil {
			return res, err
		}
	}
	if cfg.ProfileDir != "" {
		names := []string{"put-64", "resource-write-64", "get-lin-64", "resource-read-strong-64", "resource-watch"}
		if len(cfg.Only) > 0 {
			names = cfg.Only // profile what was asked for
		}
		if err := profileUnder(ctx, cfg, c, ResourceWorkloads(), names); err != nil {
			return res, fmt.Errorf("profile: %w", err)
		}
	}
	return res, nil
}

// repOrder is the order of the workloads in repetition rep: as given, and
// reversed in every other repetition. Each workload leaves work behind for
// the next (a KV put run ends with a compaction; any write-heavy run grows
// the log towards raft's next snapshot, which lands in a later run), so in
// a fixed order the workload that always follows put-64 pays for it and
// its ratio to put-64 is biased low; alternating spreads that cost over
// both.
func repOrder(ws []Workload, rep int) []Workload {
	if rep%2 == 0 {
		return ws
	}
	out := slices.Clone(ws)
	slices.Reverse(out)
	return out
}

// WriteResourceTable writes the resource comparison as a Markdown table,
// then issue 12's targets against the medians.
func WriteResourceTable(w io.Writer, res *ResourceResults) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("concord typed resources (Consul's ResourceService over gRPC, proto-public's client) vs concord's own KV (etcd v3 API) in the same run, three members on loopback, 256-byte values; medians of %s runs of %s (after %s warmup). For the watch lines the latencies are write→event.\n\n",
		res.Config["reps"], res.Config["duration"], res.Config["warmup"])
	p("| workload | ops/s | p50 ms | p99 ms | errors | conflicts | CPU s/10k ops |\n|---|--:|--:|--:|--:|--:|--:|\n")
	for _, wl := range res.Workloads {
		s := Summarize(res.Runs, wl.Name, ClusterConcord)
		var conflicts int64
		for _, r := range res.Runs {
			if r.Workload == wl.Name && r.Report != nil {
				conflicts += r.Report.Conflicts
			}
		}
		p("| %s | %.0f | %.2f | %.2f | %d | %d | %.2f |\n", wl.Label, s.Throughput, s.P50, s.P99, s.Errors, conflicts, s.CPUPer10k)
	}
	put, get := Summarize(res.Runs, "put-64", ClusterConcord), Summarize(res.Runs, "get-lin-64", ClusterConcord)
	cas, strong := Summarize(res.Runs, "resource-write-64", ClusterConcord), Summarize(res.Runs, "resource-read-strong-64", ClusterConcord)
	watch := Summarize(res.Runs, "resource-watch", ClusterConcord)
	p("\nTargets (issue 12):\n\n")
	ratioTarget := func(what string, got, base float64, baseDesc string, reps string) {
		if got == 0 || base == 0 {
			p("- %s: not measured\n", what)
			return
		}
		p("- %s: %.0f vs %s %.0f = %.2fx%s (target ≥ 0.8x): %s\n", what, got, baseDesc, base, got/base, reps, verdict(got >= 0.8*base))
	}
	// The CAS write is judged as one guarded write per operation, as a
	// put is one write; the read-modify-write sends two requests per
	// operation and is shown beside KV's own read-then-guarded Txn.
	owned := Summarize(res.Runs, "resource-write-owned-64", ClusterConcord)
	ratioTarget("CAS write (resource-write-owned-64: one guarded write per operation) vs KV put-64", owned.Throughput, put.Throughput, "KV put",
		repRatios(res.Runs, "resource-write-owned-64", "put-64"))
	kvcas := Summarize(res.Runs, "txn-cas-64", ClusterConcord)
	if cas.Throughput > 0 && put.Throughput > 0 {
		p("- for reference, read-modify-write (resource-write-64: an eventual read, then a guarded write; two requests per operation) vs KV put-64: %.2fx", cas.Throughput/put.Throughput)
		if kvcas.Throughput > 0 {
			p("; vs KV txn-cas-64 (the same read-then-guarded-write on KV): %.2fx", cas.Throughput/kvcas.Throughput)
		}
		p("\n")
	}
	ratioTarget("resource-read strong-64 vs KV get linearizable-64", strong.Throughput, get.Throughput, "KV get",
		repRatios(res.Runs, "resource-read-strong-64", "get-lin-64"))
	if watch.Runs == 0 {
		p("- resource-watch p99: not measured\n")
	} else {
		p("- resource-watch, %d watchers at %d writes/s: write→event p99 %.1f ms (target < 100 ms): %s\n",
			watchWatchers, watchRate, watch.P99, verdict(watch.P99 < 100))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func writeResourceOut(dir string, res *ResourceResults) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "resource-results.json"), b, 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "resource-table.md"))
	if err != nil {
		return err
	}
	defer f.Close()
	return WriteResourceTable(f, res)
}

// profileUnder takes a 20 s CPU profile of every member of c (started with
// pprof listeners) under each named workload of ws in turn, into
// cfg.ProfileDir (cpu-WORKLOAD-cN-ROLE.pprof).
func profileUnder(ctx context.Context, cfg SQLConfig, c *cluster, ws []Workload, names []string) error {
	if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
		return err
	}
	roles, err := c.roles(ctx)
	if err != nil {
		return err
	}
	const seconds = 20
	for _, w := range ws {
		if !containsName(names, w.Name) {
			continue
		}
		bc := w.Cfg
		bc.Endpoints, bc.Duration, bc.Warmup = c.endpoints, (seconds+6)*time.Second, 2*time.Second
		logf2(cfg.Log, "profile: %s, %ds CPU profile of each member (%s)", w.Name, seconds, strings.Join(roles, ", "))
		var rep *bench.Report
		var runErr error
		done := make(chan struct{})
		go func() { defer close(done); rep, runErr = bench.Run(ctx, bc) }()
		select {
		case <-ctx.Done():
		case <-time.After(4 * time.Second):
		}
		errs := make([]error, len(c.procs))
		fetched := make(chan struct{}, len(c.procs))
		for i := range c.procs {
			go func() {
				defer func() { fetched <- struct{}{} }()
				errs[i] = fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprofAddrs[i], seconds),
					filepath.Join(cfg.ProfileDir, fmt.Sprintf("cpu-%s-c%d-%s.pprof", w.Name, i+1, roles[i])))
			}()
		}
		for range c.procs {
			<-fetched
		}
		<-done
		for _, err := range append(errs, runErr) {
			if err != nil {
				return err
			}
		}
		logf2(cfg.Log, "profile: %s during profiling: %.0f ops/s, p99 %.1fms, %d errors", w.Name, rep.Throughput, rep.Latency.P99, rep.Errors)
	}
	return nil
}

// repRatios is the lowest and highest ratio of workload a to workload b
// over the repetitions that measured both, as " (repetitions lo–hi)", or
// "" with fewer than two such repetitions.
func repRatios(runs []Run, a, b string) string {
	tput := func(name string) map[int]float64 {
		m := map[int]float64{}
		for _, r := range runs {
			if r.Workload == name && r.Cluster == ClusterConcord && r.Report != nil && r.Report.Throughput > 0 {
				m[r.Rep] = r.Report.Throughput
			}
		}
		return m
	}
	ta, tb := tput(a), tput(b)
	var ratios []float64
	for rep, x := range ta {
		if y, ok := tb[rep]; ok {
			ratios = append(ratios, x/y)
		}
	}
	if len(ratios) < 2 {
		return ""
	}
	return fmt.Sprintf(" (repetitions %.2f–%.2f)", slices.Min(ratios), slices.Max(ratios))
}
