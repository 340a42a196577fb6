// Package compare runs concord and etcd side by side on loopback, three
// durable members each, and compares them workload by workload: the code
// behind `concord bench compare` and bench/compare.sh.
//
// Both clusters run at the same time; the workloads alternate between them
// (etcd first in one repetition, concord first in the next) and repeat, and
// the report gives per workload the median over repetitions of each figure
// and the concord/etcd ratio. Only same-run ratios mean anything on a
// shared, noisy machine.
//
// With Config.BaselineConcordBin set, the baseline is a second concord
// build instead of etcd (an A/B of two builds, bench/ab.sh): everything else
// is the same, and the report names the baseline by Config.BaselineLabel.
package compare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/concord-db/concord/bench"
)

// Config is one comparison.
type Config struct {
	ConcordBin string // the concord binary to run as members
	EtcdBin    string // etcd (Debian's etcd-server provides /usr/bin/etcd); unused with BaselineConcordBin
	WorkDir    string // data dirs and member logs go under it
	Quick      bool   // one repetition of short runs and a smaller memory check (~3 minutes)
	Reps       int    // repetitions (default 3; 1 with Quick)
	Duration   time.Duration
	Warmup     time.Duration
	MemKeys    int // keys loaded for the memory check (default 1M; 100k with Quick; <0 skips)
	// Only restricts the workloads to these names (default: all).
	Only []string
	// BaselineConcordBin, if set, is a concord binary whose three-member
	// cluster is the baseline instead of etcd; ratios are then
	// ConcordBin/BaselineConcordBin.
	BaselineConcordBin string
	// BaselineLabel names the baseline concord build in the report
	// (default "baseline"); only with BaselineConcordBin.
	BaselineLabel string
	// ProfileDir, if set, also profiles a concord cluster under the 64-client
	// put load and writes the profiles there.
	ProfileDir string
	// OutDir, if set, receives results.json and table.md.
	OutDir string
	Log    io.Writer // progress
}

func (c *Config) defaults() {
	if c.Reps == 0 {
		c.Reps = 3
		if c.Quick {
			c.Reps = 1
		}
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
		if c.Quick {
			c.Duration = 5 * time.Second
		}
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
		if c.Quick {
			c.Warmup = time.Second
		}
	}
	if c.MemKeys == 0 {
		c.MemKeys = 1_000_000
		if c.Quick {
			c.MemKeys = 100_000
		}
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.BaselineConcordBin != "" && c.BaselineLabel == "" {
		c.BaselineLabel = ClusterBaseline
	}
}

// Validate reports flag combinations that cannot work.
func (c *Config) Validate() error {
	if c.BaselineLabel != "" && c.BaselineConcordBin == "" {
		return errors.New("a baseline label needs a baseline concord binary")
	}
	if c.BaselineLabel == ClusterConcord {
		return fmt.Errorf("baseline label %q would name both clusters the same", c.BaselineLabel)
	}
	return nil
}

// Cluster keys: Run.Cluster and the keys of Results' per-cluster maps.
const (
	ClusterEtcd     = "etcd"
	ClusterConcord  = "concord"  // Config.ConcordBin
	ClusterBaseline = "baseline" // Config.BaselineConcordBin
)

// Workload is one line of the comparison.
type Workload struct {
	Name  string
	Label string
	Cfg   bench.Config
}

// Watch fan-out in the comparison: watchers on one member, puts at a fixed
// rate. The target (10k watchers at 1k puts/s, 10M events/s) is
// beyond what a load generator sharing two cores with both clusters can
// receive; this is the same shape at a load it can.
const (
	watchWatchers = 1000
	watchRate     = 100
)

// Workloads are the workloads compared, in order.
func Workloads() []Workload {
	put := func(clients int) bench.Config {
		return bench.Config{Workload: bench.Put, Clients: clients, KeySpace: 10000}
	}
	get := func(consistency string) bench.Config {
		return bench.Config{Workload: bench.Get, Clients: 64, KeySpace: 10000, Consistency: consistency, Preload: true}
	}
	return []Workload{
		{"put-1", "put, 1 client", put(1)},
		{"put-64", "put, 64 clients", put(64)},
		{"put-256", "put, 256 clients", put(256)},
		{"get-lin-64", "get linearizable, 64 clients", get(bench.Linearizable)},
		{"get-ser-64", "get serializable, 64 clients", get(bench.Serializable)},
		{"txn-cas-64", "txn-cas, 64 clients", bench.Config{Workload: bench.TxnCAS, Clients: 64, KeySpace: 10000}},
		{"watch", fmt.Sprintf("watch: %d watchers, %d puts/s (put→event)", watchWatchers, watchRate),
			bench.Config{Workload: bench.Watch, Clients: 4, Rate: watchRate, Watchers: watchWatchers, KeySpace: 10000}},
	}
}

// Run is one workload run against one cluster.
type Run struct {
	Workload string        `json:"workload"`
	Cluster  string        `json:"cluster"`
	Rep      int           `json:"rep"`
	Report   *bench.Report `json:"report,omitempty"`
	Err      string        `json:"error,omitempty"`
	// CPUSeconds is utime+stime of the three members during the run
	// (warmup included).
	CPUSeconds float64 `json:"cpu_seconds"`
	// Ops is every operation of the run, warmup included (for CPU per op).
	Ops int64 `json:"ops_incl_warmup"`
	// FirstIsLeader: the first endpoint of the run (the only one a single
	// client uses) was the leader when it started.
	FirstIsLeader bool `json:"first_endpoint_is_leader"`
}

// Results is a whole comparison.
type Results struct {
	Date       string               `json:"date"`
	Host       string               `json:"host"`
	Versions   map[string]string    `json:"versions"`
	Config     map[string]string    `json:"config"`
	Runs       []Run                `json:"runs"`
	PeakRSSMiB map[string]float64   `json:"peak_rss_mib"`             // max VmHWM over members, after the workloads
	Memory     map[string][]float64 `json:"memory_rss_mib,omitempty"` // per member, after the memory load
	MemoryHWM  map[string][]float64 `json:"memory_hwm_mib,omitempty"`
	MemoryAnon map[string][]float64 `json:"memory_rss_anon_mib,omitempty"`
	MemKeys    int                  `json:"memory_keys,omitempty"`
	// BaselineLabel is Config.BaselineLabel: when set, the baseline is a
	// second concord build whose runs and map entries are under the key
	// ClusterBaseline, and the report calls it by this label.
	BaselineLabel string     `json:"baseline_label,omitempty"`
	Workloads     []Workload `json:"-"`
}

// baselineKey is the key of the baseline cluster: ClusterEtcd, or
// ClusterBaseline when it is a concord build.
func (r *Results) baselineKey() string {
	if r.BaselineLabel != "" {
		return ClusterBaseline
	}
	return ClusterEtcd
}

// name is the name printed for a cluster key.
func (r *Results) name(key string) string {
	if key == ClusterBaseline {
		return r.BaselineLabel
	}
	return key
}

// Compare runs the comparison and writes the table to out.
func Compare(ctx context.Context, cfg Config, out io.Writer) (*Results, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res := &Results{Date: time.Now().UTC().Format(time.RFC3339), Versions: versions(cfg), PeakRSSMiB: map[string]float64{},
		Config:        map[string]string{"reps": fmt.Sprint(cfg.Reps), "duration": cfg.Duration.String(), "warmup": cfg.Warmup.String()},
		BaselineLabel: cfg.BaselineLabel}
	res.Host, _ = os.Hostname()
	for _, w := range Workloads() {
		if len(cfg.Only) == 0 || slices.Contains(cfg.Only, w.Name) {
			res.Workloads = append(res.Workloads, w)
		}
	}
	if len(res.Workloads) > 0 {
		if err := compareWorkloads(ctx, cfg, res); err != nil {
			return res, err
		}
	}
	if cfg.MemKeys > 0 {
		if err := memoryCheck(ctx, cfg, res); err != nil {
			return res, err
		}
	}
	if err := WriteTable(out, res); err != nil {
		return res, err
	}
	if cfg.OutDir != "" {
		if err := writeOut(cfg.OutDir, res); err != nil {
			return res, err
		}
	}
	if cfg.ProfileDir != "" {
		if err := Profile(ctx, cfg); err != nil {
			return res, fmt.Errorf("profile: %w", err)
		}
	}
	return res, nil
}

func logf(cfg Config, format string, args ...any) {
	fmt.Fprintf(cfg.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// startBoth starts the baseline (etcd or a concord build) and concord with
// data under dir/key.
func startBoth(ctx context.Context, cfg Config, res *Results, dir string) (map[string]*cluster, func(), error) {
	clusters := map[string]*cluster{}
	stop := func() {
		for _, c := range clusters {
			c.stop()
		}
	}
	for _, kind := range []string{res.baselineKey(), ClusterConcord} {
		d := filepath.Join(dir, kind)
		if err := os.MkdirAll(d, 0o755); err != nil {
			stop()
			return nil, nil, err
		}
		var c *cluster
		var err error
		switch kind {
		case ClusterEtcd:
			c, err = startEtcd(cfg.EtcdBin, d)
		case ClusterBaseline:
			c, err = startConcord(cfg.BaselineConcordBin, d, false)
			if c != nil {
				c.kind = ClusterBaseline
			}
		default:
			c, err = startConcord(cfg.ConcordBin, d, false)
		}
		if err != nil {
			stop()
			return nil, nil, err
		}
		clusters[kind] = c
		if err := c.waitReady(ctx, 60*time.Second); err != nil {
			stop()
			return nil, nil, err
		}
		logf(cfg, "%s: three members ready at %s (data in %s)", res.name(kind), strings.Join(c.endpoints, ","), d)
	}
	return clusters, stop, nil
}

func compareWorkloads(ctx context.Context, cfg Config, res *Results) error {
	clusters, stop, err := startBoth(ctx, cfg, res, filepath.Join(cfg.WorkDir, "workloads"))
	if err != nil {
		return err
	}
	defer stop()
	for rep := range cfg.Reps {
		for wi, w := range res.Workloads {
			order := []string{res.baselineKey(), ClusterConcord}
			if (rep+wi)%2 == 1 {
				slices.Reverse(order)
			}
			for _, kind := range order {
				if err := ctx.Err(); err != nil {
					return err
				}
				run := runOne(ctx, cfg, clusters[kind], w, rep)
				if err := ctx.Err(); err != nil {
					return err // interrupted: a partial run is no result
				}
				res.Runs = append(res.Runs, run)
				if run.Err != "" {
					logf(cfg, "rep %d/%d %-11s %-7s FAILED: %s", rep+1, cfg.Reps, w.Name, res.name(kind), run.Err)
					continue
				}
				r := run.Report
				lat := r.Latency
				if r.Watch != nil {
					lat = r.Watch.Latency
				}
				where := ""
				if r.Clients < len(clusters[kind].endpoints) {
					where = "  (first endpoint: follower)"
					if run.FirstIsLeader {
						where = "  (first endpoint: leader)"
					}
				}
				logf(cfg, "rep %d/%d %-11s %-7s %8.0f ops/s  p50 %7.2fms  p99 %7.2fms  errors %d  cpu %.1fs%s",
					rep+1, cfg.Reps, w.Name, res.name(kind), r.Throughput, lat.P50, lat.P99, r.Errors, run.CPUSeconds, where)
			}
		}
	}
	for kind, c := range clusters {
		_, hwm, _ := c.mem()
		res.PeakRSSMiB[kind] = slices.Max(hwm)
	}
	return nil
}

// runOne runs one workload against one cluster and measures the members'
// CPU time during it.
func runOne(ctx context.Context, cfg Config, c *cluster, w Workload, rep int) Run {
	run := Run{Workload: w.Name, Cluster: c.kind, Rep: rep}
	bc := w.Cfg
	// Rotate the endpoints by repetition: a run with fewer clients than
	// members (the 1-client put) loads the first endpoint only, and whether
	// that member is the leader changes its latency; over three repetitions
	// each member is first once.
	bc.Endpoints = rotate(c.endpoints, rep)
	if roles, err := c.roles(ctx); err == nil {
		run.FirstIsLeader = roles[rep%len(roles)] == "leader"
	}
	bc.Duration, bc.Warmup = cfg.Duration, cfg.Warmup
	if bc.Workload == bench.Get {
		// Preload outside the measured CPU window.
		pre := bc
		pre.Workload, pre.Duration, pre.Warmup, pre.Batch, pre.Rate = bench.Fill, 0, 0, 64, 0
		if _, err := bench.Run(ctx, pre); err != nil {
			run.Err = "preload: " + err.Error()
			return run
		}
	}
	cpu0 := c.cpuSeconds()
	rep0 := time.Now()
	r, err := bench.Run(ctx, bc)
	run.CPUSeconds = c.cpuSeconds() - cpu0
	if err != nil {
		run.Err = err.Error()
		return run
	}
	run.Report = r
	// Warmup operations cost CPU too: scale the measured rate to the whole
	// window for CPU per operation.
	all := time.Since(rep0).Seconds()
	run.Ops = int64(r.Throughput * min(all, r.Seconds+cfg.Warmup.Seconds()))
	if strings.HasPrefix(bc.Workload, "sql-") || strings.HasPrefix(bc.Workload, "resource-") {
		return run // SQL and resource writes leave the key-value history alone
	}
	if err := c.compact(ctx); err != nil {
		logf(cfg, "%s: compact after %s: %v", c.kind, w.Name, err)
	}
	return run
}

// memoryCheck loads MemKeys keys of 256 bytes into fresh clusters and
// records each member's RSS.
func memoryCheck(ctx context.Context, cfg Config, res *Results) error {
	clusters, stop, err := startBoth(ctx, cfg, res, filepath.Join(cfg.WorkDir, "memory"))
	if err != nil {
		return err
	}
	defer stop()
	res.Memory, res.MemoryHWM, res.MemoryAnon, res.MemKeys = map[string][]float64{}, map[string][]float64{}, map[string][]float64{}, cfg.MemKeys
	for _, kind := range []string{res.baselineKey(), ClusterConcord} {
		c := clusters[kind]
		name := res.name(kind)
		logf(cfg, "memory: loading %d keys of 256 bytes into %s", cfg.MemKeys, name)
		r, err := bench.Run(ctx, bench.Config{Workload: bench.Fill, Endpoints: c.endpoints, Clients: 32,
			KeySpace: cfg.MemKeys, Batch: 100, Prefix: "mem/", Timeout: 30 * time.Second})
		if err != nil {
			return fmt.Errorf("memory load into %s: %w", name, err)
		}
		if r.Errors > 0 {
			return fmt.Errorf("memory load into %s: %d errors: %v", name, r.Errors, r.ErrorsByKind)
		}
		// Let the members settle (Go returns freed memory lazily; etcd
		// flushes its batch) before reading RSS.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
		res.Memory[kind], res.MemoryHWM[kind], res.MemoryAnon[kind] = c.mem()
		logf(cfg, "memory: %s RSS per member %s MiB (anonymous %s, peak %s), loaded in %.1fs", name,
			fmtList(res.Memory[kind]), fmtList(res.MemoryAnon[kind]), fmtList(res.MemoryHWM[kind]), r.Seconds)
	}
	return nil
}

func fmtList(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(s, "/")
}

func versions(cfg Config) map[string]string {
	v := map[string]string{"go (bench)": runtime.Version()}
	if cfg.BaselineConcordBin == "" {
		if out, err := exec.Command(cfg.EtcdBin, "--version").Output(); err == nil {
			v[ClusterEtcd] = strings.Join(strings.Fields(string(out)), " ")
		}
	} else if out, err := exec.Command(cfg.BaselineConcordBin, "version").Output(); err == nil {
		v[ClusterBaseline] = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command(cfg.ConcordBin, "version").Output(); err == nil {
		v[ClusterConcord] = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				v["cpu"] = fmt.Sprintf("%s × %d", strings.TrimSpace(val), runtime.NumCPU())
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		v["kernel"] = strings.TrimSpace(string(b))
	}
	return v
}

func writeOut(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "table.md"))
	if err != nil {
		return err
	}
	defer f.Close()
	return WriteTable(f, res)
}

// Profile starts a fresh concord whose members expose pprof, runs the
// 64-client put load, and saves CPU, allocation, heap, block and mutex
// profiles of every member (the file names say which was the leader).
func Profile(ctx context.Context, cfg Config) error {
	cfg.defaults()
	dir := filepath.Join(cfg.WorkDir, "profile")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
		return err
	}
	c, err := startConcord(cfg.ConcordBin, dir, true)
	if err != nil {
		return err
	}
	defer c.stop()
	if err := c.waitReady(ctx, 60*time.Second); err != nil {
		return err
	}
	roles, err := c.roles(ctx)
	if err != nil {
		return err
	}
	const seconds = 20
	logf(cfg, "profile: concord put, 64 clients, %ds CPU profile of each member (%s)", seconds, strings.Join(roles, ", "))
	bc := bench.Config{Workload: bench.Put, Clients: 64, KeySpace: 10000, Endpoints: c.endpoints,
		Duration: (seconds + 6) * time.Second, Warmup: 2 * time.Second}
	var rep *bench.Report
	var runErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rep, runErr = bench.Run(ctx, bc) }()
	select {
	case <-ctx.Done():
	case <-time.After(4 * time.Second):
	}
	var errs []error
	var mu sync.Mutex
	var pw sync.WaitGroup
	for i := range c.procs {
		pw.Add(1)
		go func() {
			defer pw.Done()
			name := fmt.Sprintf("c%d-%s", i+1, roles[i])
			err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprofAddrs[i], seconds),
				filepath.Join(cfg.ProfileDir, "cpu-"+name+".pprof"))
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	pw.Wait()
	for i := range c.procs {
		name := fmt.Sprintf("c%d-%s", i+1, roles[i])
		for _, p := range []string{"allocs", "heap", "goroutine"} {
			errs = append(errs, fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/%s", c.pprofAddrs[i], p),
				filepath.Join(cfg.ProfileDir, p+"-"+name+".pprof")))
		}
	}
	wg.Wait()
	if runErr != nil {
		errs = append(errs, runErr)
	} else {
		logf(cfg, "profile: load during profiling: %.0f puts/s, p99 %.1fms, %d errors", rep.Throughput, rep.Latency.P99, rep.Errors)
		b, _ := json.MarshalIndent(rep, "", "  ")
		os.WriteFile(filepath.Join(cfg.ProfileDir, "load.json"), b, 0o644)
	}
	return errors.Join(errs...)
}

// roles names each member "leader" or "follower".
func (c *cluster) roles(ctx context.Context) ([]string, error) {
	cli, err := c.client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	var roles []string
	for _, ep := range c.endpoints {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := cli.Status(sctx, ep)
		cancel()
		if err != nil {
			return nil, err
		}
		role := "follower"
		if st.Leader == st.Header.MemberId {
			role = "leader"
		}
		roles = append(roles, role)
	}
	return roles, nil
}

func fetch(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
