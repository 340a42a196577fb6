package compare

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/concord-db/concord/bench"
)

// ClusterDqlite is the dqlite baseline's key in Results.
const ClusterDqlite = "dqlite"

// SQLWorkload is one line of the SQL comparison: a concord workload and,
// where dqlite has the same shape, the dqlite-benchmark workers to run.
type SQLWorkload struct {
	Name  string
	Label string
	Cfg   bench.Config
	// DqliteWorkers, if positive, runs dqlite-benchmark's kvwrite with
	// this many workers as this line's baseline.
	DqliteWorkers int
}

// SQLWorkloads are the SQL comparison's lines, in order: concord's KV puts
// (the reference the SQL inserts are held to), the SQL workloads at 64
// clients, and single-client inserts (latency; dqlite's best case).
func SQLWorkloads() []SQLWorkload {
	query := func(level string) bench.Config {
		return bench.Config{Workload: bench.SQLQuery, Clients: 64, KeySpace: 10000, Level: level, Preload: true}
	}
	return []SQLWorkload{
		{"put-64", "KV put, 64 clients", bench.Config{Workload: bench.Put, Clients: 64, KeySpace: 10000}, 0},
		{"sql-insert-64", "sql-insert, 64 clients", bench.Config{Workload: bench.SQLInsert, Clients: 64}, 64},
		{"sql-insert-1", "sql-insert, 1 client", bench.Config{Workload: bench.SQLInsert, Clients: 1}, 1},
		{"sql-txn-64", "sql-txn (4 upserts), 64 clients", bench.Config{Workload: bench.SQLTxn, Clients: 64, KeySpace: 10000}, 0},
		{"sql-query-lin-64", "sql-query linearizable, 64 clients", query("linearizable"), 0},
		{"sql-query-weak-64", "sql-query weak, 64 clients", query("weak"), 0},
		{"sql-query-none-64", "sql-query none, 64 clients", query("none"), 0},
	}
}

// SQLConfig is one SQL comparison.
type SQLConfig struct {
	ConcordBin string
	// DqliteBin is dqlite-benchmark (Debian's go-dqlite package); empty
	// skips the dqlite baseline.
	DqliteBin string
	WorkDir   string
	Reps      int // default 3
	Duration  time.Duration
	Warmup    time.Duration
	Only      []string // workload names; default all
	// ProfileDir, if set, also profiles the concord members under the
	// 64-client sql-insert and linearizable sql-query loads.
	ProfileDir string
	OutDir     string
	Log        io.Writer
}

func (c *SQLConfig) defaults() {
	if c.Reps == 0 {
		c.Reps = 3
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// SQLResults is a whole SQL comparison.
type SQLResults struct {
	Date      string            `json:"date"`
	Versions  map[string]string `json:"versions"`
	Config    map[string]string `json:"config"`
	Runs      []Run             `json:"runs"`
	Workloads []SQLWorkload     `json:"-"`
}

// CompareSQL runs concord's SQL workloads and KV puts on one three-member
// concord, and dqlite-benchmark's three-node dqlite where it has the same
// workload, alternating, Reps times, and writes the table to out.
func CompareSQL(ctx context.Context, cfg SQLConfig, out io.Writer) (*SQLResults, error) {
	cfg.defaults()
	res := &SQLResults{Date: time.Now().UTC().Format(time.RFC3339),
		Versions: versions(Config{ConcordBin: cfg.ConcordBin}),
		Config:   map[string]string{"reps": fmt.Sprint(cfg.Reps), "duration": cfg.Duration.String(), "warmup": cfg.Warmup.String()}}
	if cfg.DqliteBin != "" {
		res.Versions[ClusterDqlite] = "go-dqlite " + debVersion("go-dqlite") + ", libdqlite " + debVersion("libdqlite0")
	}
	for _, w := range SQLWorkloads() {
		if len(cfg.Only) == 0 || containsName(cfg.Only, w.Name) {
			res.Workloads = append(res.Workloads, w)
		}
	}
	dir := filepath.Join(cfg.WorkDir, "sql", "concord")
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
		for wi, w := range res.Workloads {
			dqliteFirst := (rep+wi)%2 == 1
			if dqliteFirst {
				res.dqlite(ctx, cfg, w, rep)
			}
			if err := ctx.Err(); err != nil {
				return res, err
			}
			run := runOne(ctx, bcfg, c, Workload{Name: w.Name, Label: w.Label, Cfg: w.Cfg}, rep)
			if err := ctx.Err(); err != nil {
				return res, err
			}
			res.Runs = append(res.Runs, run)
			logRun(cfg.Log, rep, cfg.Reps, w.Name, ClusterConcord, run)
			if !dqliteFirst {
				res.dqlite(ctx, cfg, w, rep)
			}
		}
	}
	if err := WriteSQLTable(out, res); err != nil {
		return res, err
	}
	if cfg.OutDir != "" {
		if err := writeSQLOut(cfg.OutDir, res); err != nil {
			return res, err
		}
	}
	if cfg.ProfileDir != "" {
		if err := profileSQL(ctx, cfg, c); err != nil {
			return res, fmt.Errorf("profile: %w", err)
		}
	}
	return res, nil
}

// dqlite runs w's dqlite baseline, if it has one, on a fresh dqlite
// cluster (dqlite-benchmark runs one workload and exits).
func (res *SQLResults) dqlite(ctx context.Context, cfg SQLConfig, w SQLWorkload, rep int) {
	if cfg.DqliteBin == "" || w.DqliteWorkers <= 0 || ctx.Err() != nil {
		return
	}
	dir := filepath.Join(cfg.WorkDir, "sql", fmt.Sprintf("dqlite-%s-rep%d", w.Name, rep))
	run := Run{Workload: w.Name, Cluster: ClusterDqlite, Rep: rep}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		run.Err = err.Error()
	} else if r, err := runDqlite(ctx, dqliteRun{Bin: cfg.DqliteBin, Dir: dir, Workers: w.DqliteWorkers, Duration: cfg.Duration}); err != nil {
		run.Err = err.Error()
	} else {
		run.Report = r
	}
	if ctx.Err() != nil {
		return
	}
	res.Runs = append(res.Runs, run)
	logRun(cfg.Log, rep, cfg.Reps, w.Name, ClusterDqlite, run)
}

func logRun(log io.Writer, rep, reps int, name, cluster string, run Run) {
	if run.Err != "" {
		logf2(log, "rep %d/%d %-18s %-7s FAILED: %s", rep+1, reps, name, cluster, run.Err)
		return
	}
	r := run.Report
	logf2(log, "rep %d/%d %-18s %-7s %8.0f ops/s  p50 %7.2fms  p99 %7.2fms  errors %d", rep+1, reps, name, cluster,
		r.Throughput, r.Latency.P50, r.Latency.P99, r.Errors)
}

func logf2(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}
