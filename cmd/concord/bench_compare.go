package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/concord-db/concord/bench/compare"
	"github.com/spf13/cobra"
)

// newBenchCompareCmd is `concord bench compare` (bench/compare.sh runs it
// after building concord and installing etcd if needed).
func newBenchCompareCmd() *cobra.Command {
	var (
		cfg       compare.Config
		keep      bool
		sql       bool
		resource  bool
		dqliteBin string
	)
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "run concord and etcd (or another concord build) side by side on loopback and compare them",
		Long: `Start a three-member etcd and a three-member concord on loopback, each member
with its own data dir and fsync on, and run the same workloads against both,
alternating, --reps times. Print per workload the medians (throughput, p50,
p99, CPU seconds of all three members per 10k operations) and the
concord/etcd ratios, the peak RSS, and a memory check: RSS per member with
--mem-keys keys of 256 bytes loaded into fresh clusters.

With --baseline-concord BIN the baseline is a three-member concord run from
BIN instead of etcd (etcd is then not needed), and the ratios are
--concord/BIN: an A/B of two concord builds in the same run, on the same
machine, alternating, which is the only comparison that means anything on a
shared, noisy machine. The report calls the baseline --baseline-label
(default "baseline"); in the JSON its runs are under the cluster key
"baseline". bench/ab.sh builds two git revisions and runs this.

With --sql it compares the SQL workloads instead: on one three-member
concord, KV puts and sql-insert, sql-txn and sql-query (linearizable, weak,
none) at 64 clients and sql-insert at 1, and dqlite-benchmark's kvwrite
(Debian's go-dqlite: a three-node dqlite on loopback) at the same number of
clients as the inserts' baseline; the table ends with issue 11's targets.
bench/sql-compare.sh builds concord, installs go-dqlite and runs this.

With --resource it compares the typed-resource workloads instead: on one
three-member concord, KV puts and linearizable KV gets at 64 clients, and
resource-write (CAS), resource-read strong and eventual at 64 clients and
resource-watch (1000 watchers, 100 writes/s); the table ends with issue
12's targets (ratios to the KV lines of the same run, watch p99).

Every process started is stopped at the end, also on Ctrl-C.
bench/compare.sh builds concord, installs etcd (Debian's etcd-server) when
it is missing, and runs this.`,
		Example: `  concord bench compare --quick
  concord bench compare --out bench-results --profile bench-results/profiles
  concord bench compare --concord ./concord-new --baseline-concord ./concord-old --baseline-label old \
      --reps 3 --duration 5s --only put-64,put-256 --mem-keys -1
  bench/ab.sh HEAD~1 HEAD --reps 3 --duration 5s --only put-64,put-256 --mem-keys -1
  concord bench compare --sql --reps 1 --duration 5s --only put-64,sql-insert-64,sql-query-lin-64
  concord bench compare --resource --reps 3 --duration 10s --out bench-results`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.ConcordBin == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				cfg.ConcordBin = exe
			}
			if sql && resource {
				return usagef("--sql and --resource are exclusive")
			}
			if sql || resource {
				return runSQLCompare(cmd, cfg, dqliteBin, keep, resource)
			}
			if cmd.Flags().Changed("dqlite-benchmark") {
				return usagef("--dqlite-benchmark needs --sql")
			}
			if cfg.BaselineConcordBin != "" && cmd.Flags().Changed("etcd") {
				return usagef("--etcd and --baseline-concord are exclusive: the baseline is etcd or a concord build")
			}
			if cmd.Flags().Changed("baseline-label") && cfg.BaselineConcordBin == "" {
				return usagef("--baseline-label needs --baseline-concord")
			}
			if err := cfg.Validate(); err != nil {
				return usagef("%v", err)
			}
			if cfg.EtcdBin == "" && cfg.BaselineConcordBin == "" {
				p, err := exec.LookPath("etcd")
				if err != nil {
					return usagef("etcd not found in PATH; install it (apt-get install etcd-server) or give --etcd")
				}
				cfg.EtcdBin = p
			}
			if cfg.WorkDir == "" {
				d, err := os.MkdirTemp("", "concord-compare-")
				if err != nil {
					return err
				}
				cfg.WorkDir = d
				if !keep {
					defer os.RemoveAll(d)
				}
			}
			cfg.Log = cmd.ErrOrStderr()
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			_, err := compare.Compare(ctx, cfg, cmd.OutOrStdout())
			fmt.Fprintf(cmd.ErrOrStderr(), "compare took %s\n", time.Since(start).Round(time.Second))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ConcordBin, "concord", "", "concord binary run as the members (default: this one)")
	f.StringVar(&cfg.EtcdBin, "etcd", "", "etcd binary (default: etcd in PATH); not with --baseline-concord")
	f.StringVar(&cfg.BaselineConcordBin, "baseline-concord", "",
		"run the concord binary `BIN` as the baseline cluster instead of etcd; ratios are then --concord/BIN (A/B of two builds; bench/ab.sh REV_A REV_B builds both and runs this)")
	f.StringVar(&cfg.BaselineLabel, "baseline-label", "",
		"call the --baseline-concord build `LABEL` in the table and log, e.g. its git revision (default \"baseline\")")
	f.StringVar(&cfg.WorkDir, "work-dir", "", "directory for data dirs and member logs (default: a temporary one, removed afterwards)")
	f.BoolVar(&keep, "keep", false, "keep the temporary work dir")
	f.BoolVar(&cfg.Quick, "quick", false, "one repetition of 5s runs and a 100k-key memory check (about 3 minutes)")
	f.IntVar(&cfg.Reps, "reps", 0, "repetitions of each workload (default 3; 1 with --quick)")
	f.DurationVar(&cfg.Duration, "duration", 0, "measured length of each run (default 10s; 5s with --quick)")
	f.DurationVar(&cfg.Warmup, "warmup", 0, "warmup before each run (default 2s; 1s with --quick)")
	f.IntVar(&cfg.MemKeys, "mem-keys", 0, "keys loaded for the memory check (default 1000000; 100000 with --quick; -1 skips it)")
	f.StringSliceVar(&cfg.Only, "only", nil, "run only these workloads (put-1,put-64,put-256,get-lin-64,get-ser-64,txn-cas-64,watch; none: all)")
	f.StringVar(&cfg.ProfileDir, "profile", "", "also profile concord members under the 64-client put load; profiles go to this directory")
	f.StringVar(&cfg.OutDir, "out", "", "write results.json and table.md to this directory")
	f.BoolVar(&sql, "sql", false, "compare the SQL workloads instead: concord's SQL API vs its KV puts and dqlite (bench/sql-compare.sh)")
	f.BoolVar(&resource, "resource", false, "compare the typed-resource workloads instead: resource-write/read/watch vs KV puts and linearizable gets in the same run")
	f.StringVar(&dqliteBin, "dqlite-benchmark", "", "with --sql: dqlite-benchmark binary (default: dqlite-benchmark in PATH; without it, no dqlite baseline)")
	return cmd
}

// runSQLCompare is `concord bench compare --sql`: concord's SQL workloads
// and KV puts on one three-member concord, dqlite-benchmark's three-node
// dqlite as the baseline of the inserts.
func runSQLCompare(cmd *cobra.Command, c compare.Config, dqliteBin string, keep, resource bool) error {
	if c.BaselineConcordBin != "" || cmd.Flags().Changed("etcd") || cmd.Flags().Changed("mem-keys") || c.Quick {
		return usagef("--sql and --resource take --concord, --dqlite-benchmark (--sql), --reps, --duration, --warmup, --only, --profile, --out, --work-dir and --keep")
	}
	if resource && cmd.Flags().Changed("dqlite-benchmark") {
		return usagef("--dqlite-benchmark needs --sql")
	}
	if dqliteBin == "" && !resource {
		if p, err := exec.LookPath("dqlite-benchmark"); err == nil {
			dqliteBin = p
		} else {
			fmt.Fprintln(cmd.ErrOrStderr(), "compare: dqlite-benchmark not found (apt-get install go-dqlite): no dqlite baseline")
		}
	}
	cfg := compare.SQLConfig{ConcordBin: c.ConcordBin, DqliteBin: dqliteBin, WorkDir: c.WorkDir, Reps: c.Reps,
		Duration: c.Duration, Warmup: c.Warmup, Only: c.Only, ProfileDir: c.ProfileDir, OutDir: c.OutDir, Log: cmd.ErrOrStderr()}
	if cfg.WorkDir == "" {
		d, err := os.MkdirTemp("", "concord-sql-compare-")
		if err != nil {
			return err
		}
		cfg.WorkDir = d
		if !keep {
			defer os.RemoveAll(d)
		}
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	var err error
	if resource {
		_, err = compare.CompareResource(ctx, cfg, cmd.OutOrStdout())
	} else {
		_, err = compare.CompareSQL(ctx, cfg, cmd.OutOrStdout())
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "compare took %s\n", time.Since(start).Round(time.Second))
	return err
}
