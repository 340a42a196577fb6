package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/concord-db/concord/bench"
	"github.com/spf13/cobra"
)

// newBenchCmd is `concord bench`: the load generator (package bench).
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "measure a cluster (concord or etcd) under load",
		Long: `Measure a cluster under load through etcd's v3 gRPC API: the same command
measures concord and etcd. The sql-* workloads use rqlite's HTTP API
(/db/execute, /db/query) instead, each client with its own keep-alive
connection, so they measure concord's SQL face and rqlite alike. The
resource-* workloads use Consul's ResourceService (proto-public's gRPC
client) on the same client port.

--conns connections are opened, each pinned to one endpoint (round-robin
over --endpoints); the --clients workers share them (worker i uses
connection i mod conns), as etcd's benchmark tool does. By default there is
one connection per endpoint, so the clients spread over all endpoints.

Without --rate the workers run closed loop (each sends its next request when
the previous one answered). With --rate the load is open loop: request i is
due at start + i/rate and its latency is measured from that due time, so a
stall cannot hide behind a lower request rate (coordinated omission).
Requests still unsent when the run ends are reported as missed.

A live status line (ops/s and p99 so far) goes to stderr when it is a
terminal; the report goes to stdout.`,
		Example: `  concord bench put --endpoints 127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 --clients 64
  concord bench get --consistency serializable --clients 64 --duration 30s -o json
  concord bench put --clients 16 --rate 2000 --warmup 5s
  concord bench watch --watchers 1000 --clients 4 --rate 100
  concord bench sql-insert --clients 64
  concord bench sql-query --level none --clients 64
  concord bench resource-write --clients 64
  concord bench resource-read --consistency strong --clients 64
  concord bench resource-watch --watchers 1000 --clients 4 --rate 100`,
	}
	for _, w := range []struct{ name, short string }{
		{bench.Put, "puts of random keys over --key-space"},
		{bench.Get, "gets of random keys over --key-space (preloaded)"},
		{bench.Mixed, "gets (--read-ratio) and puts of random keys"},
		{bench.TxnCAS, "compare-and-swap: read a key's mod_revision, then write it in a txn guarded by it"},
		{bench.Watch, "put-to-event latency of --watchers watchers on one prefix on the first endpoint"},
		{bench.LeaseKeepAlive, "lease keep-alives, one lease per client"},
		{bench.Fill, "write every key of --key-space once, --batch keys per txn (loading data)"},
		{bench.SQLInsert, "SQL API: one new row per request (POST /db/execute)"},
		{bench.SQLTxn, "SQL API: --statements upserts of random rows in one ?transaction request"},
		{bench.SQLQuery, "SQL API: point queries by primary key over --key-space (preloaded) at --level"},
		{bench.ResourceWrite, "resources (Consul's ResourceService): read a resource, write it back guarded by its version (CAS)"},
		{bench.ResourceRead, "resources: reads of --key-space resources (preloaded) at --consistency strong or eventual"},
		{bench.ResourceWatch, "resources: write-to-event latency of --watchers WatchList watchers on one type"},
	} {
		cmd.AddCommand(newBenchWorkloadCmd(w.name, w.short))
	}
	cmd.AddCommand(newBenchAgentCmd(), newBenchCompareCmd())
	return cmd
}

// benchOptions are the flags of a workload command.
type benchOptions struct {
	cfg    bench.Config
	output string
	// tls and auth are the --cacert/--cert/--key and --user flags of the
	// other client commands, for a secured cluster.
	tls  clientTLSOptions
	auth clientAuthOptions
}

func newBenchWorkloadCmd(workload, short string) *cobra.Command {
	o := &benchOptions{cfg: bench.Config{Workload: workload}}
	cmd := &cobra.Command{
		Use:   workload,
		Short: short,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd)
	return cmd
}

func (o *benchOptions) addFlags(cmd *cobra.Command) {
	c := &o.cfg
	f := cmd.Flags()
	f.StringSliceVar(&c.Endpoints, "endpoints", []string{defaultClientAddr}, "client addresses of the members (host:port), comma-separated")
	f.IntVar(&c.Clients, "clients", 1, "concurrent clients (watch: writers)")
	o.tls.addFlags(cmd)
	o.auth.addFlags(cmd)
	switch c.Workload {
	case bench.SQLInsert, bench.SQLTxn, bench.SQLQuery: // one HTTP connection per client
	default:
		f.IntVar(&c.Conns, "conns", 0, "gRPC connections shared by the clients, pinned round-robin to the endpoints (default: one per endpoint, at most --clients)")
	}
	f.DurationVar(&c.Duration, "duration", 0, "length of the measured phase (default 10s unless --total is given)")
	f.Int64Var(&c.Total, "total", 0, "number of measured requests (instead of --duration)")
	f.DurationVar(&c.Warmup, "warmup", 0, "load applied before measuring starts")
	f.IntVar(&c.ValueSize, "value-size", bench.DefaultValueSize, "value size in bytes")
	f.IntVar(&c.KeySpace, "key-space", bench.DefaultKeySpace, "number of distinct keys")
	f.StringVar(&c.Prefix, "prefix", bench.DefaultPrefix, "prefix of every key written or watched")
	f.Float64Var(&c.Rate, "rate", 0, "total requests per second, open loop (0: closed loop)")
	f.DurationVar(&c.Timeout, "timeout", bench.DefaultTimeout, "timeout of each request")
	f.StringVarP(&o.output, "output", "o", "table", "report format: table or json")
	switch c.Workload {
	case bench.Get, bench.Mixed, bench.TxnCAS:
		f.StringVar(&c.Consistency, "consistency", bench.Linearizable, "consistency of the reads: linearizable or serializable")
	}
	switch c.Workload {
	case bench.Get, bench.Mixed:
		f.BoolVar(&c.Preload, "preload", true, "write the key space first if it is not there")
		f.IntVar(&c.Batch, "batch", 64, "keys per txn when preloading")
	case bench.Fill:
		f.IntVar(&c.Batch, "batch", bench.DefaultBatch, "keys per txn")
	}
	if c.Workload == bench.Mixed {
		f.Float64Var(&c.ReadRatio, "read-ratio", 0.9, "fraction of requests that are gets")
	}
	switch c.Workload {
	case bench.SQLInsert, bench.SQLTxn, bench.SQLQuery:
		f.StringVar(&c.Table, "table", bench.DefaultSQLTable, "table the SQL workload creates (if missing) and writes or reads")
	}
	switch c.Workload {
	case bench.SQLQuery:
		f.StringVar(&c.Level, "level", bench.DefaultSQLLevel, "read consistency level: none, weak, linearizable or strong")
		f.BoolVar(&c.Preload, "preload", true, "write rows 1..--key-space first if they are not there")
		f.IntVar(&c.Batch, "batch", 64, "rows per request when preloading")
	case bench.SQLTxn:
		f.IntVar(&c.TxnStatements, "statements", bench.DefaultTxnStatements, "statements in each transaction request")
	}
	if c.Workload == bench.Watch {
		f.IntVar(&c.Watchers, "watchers", bench.DefaultWatchers, "watchers on the prefix, on the first endpoint")
		f.IntVar(&c.WatchStreams, "streams", bench.DefaultWatchStreams, "gRPC watch streams (one connection each) the watchers are spread over")
	}
	switch c.Workload {
	case bench.ResourceWrite:
		f.BoolVar(&c.OwnedKeys, "owned-keys", false, "each client owns the keys equal to its index modulo --clients and guards a write with the version its own last write returned (a controller's loop: no read unless it lost a swap)")
	case bench.ResourceRead:
		f.StringVar(&c.ResourceConsistency, "consistency", bench.Strong, "consistency of the reads: strong (x-consul-consistency-mode: consistent) or eventual")
		f.BoolVar(&c.Preload, "preload", true, "write the key space's resources first if they are not there")
	case bench.ResourceWatch:
		f.IntVar(&c.Watchers, "watchers", bench.DefaultWatchers, "WatchList watchers on the bench type, on the first endpoint")
		f.IntVar(&c.WatchStreams, "streams", bench.DefaultWatchStreams, "gRPC connections the watchers' streams are spread over")
	}
}

// check validates the flags; its errors are usage errors.
func (o *benchOptions) check() error {
	if o.output != "table" && o.output != "json" {
		return usagef("--output %q: want table or json", o.output)
	}
	if o.cfg.Clients < 1 {
		return usagef("--clients must be at least 1, got %d", o.cfg.Clients)
	}
	tlsCfg, err := o.tls.config(o.cfg.Endpoints) // before the https:// goes
	if err != nil {
		return err
	}
	user, password := o.auth.credentials()
	o.cfg.Security = bench.Security{TLS: tlsCfg, Username: user, Password: password}
	for i, ep := range o.cfg.Endpoints {
		o.cfg.Endpoints[i] = trimScheme(ep)
	}
	if err := o.cfg.Validate(); err != nil {
		return &usageError{err}
	}
	return nil
}

func runBench(ctx context.Context, o *benchOptions, stdout, stderr io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if isTerminal(stderr) {
		o.cfg.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, o.cfg)
	if err != nil {
		return err
	}
	if o.output == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if rep.Interrupted {
		return &exitError{code: exitFailure, err: context.Canceled}
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
