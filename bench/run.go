package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// worker is one client of the load: it sends one request at a time.
type worker struct {
	id    int
	cli   *clientv3.Client
	rng   *rand.Rand
	val   []byte // value buffer (watch rewrites its first 8 bytes)
	sval  string // val as a string, for puts that do not change it
	lease clientv3.LeaseID
	rec   *recorder
	key   []byte // scratch for key formatting
	// SQL workloads (sql.go): the member this worker talks to, the
	// sql-insert body and the JSON-quoted value.
	sql      *sqlClient
	sqlBody  []byte
	sqlValue []byte
	// Resource workloads (resource.go): Consul's ResourceService client.
	res pbresource.ResourceServiceClient
	// owned (resource-write --owned-keys): the id and version of this
	// worker's last write of each of its keys.
	owned map[string]*pbresource.Resource
}

type runner struct {
	cfg       Config
	conns     []*clientv3.Client
	workers   []*worker
	readOpts  []clientv3.OpOption
	used      []string // endpoints that carry load
	fillNext  atomic.Int64
	watch     *watchState
	sqlHTTP   *http.Client       // SQL workloads
	sqlToken  string             // SQL workloads: Security's user's token
	queryPath string             // sql-query: /db/query?level=...
	resConns  []*grpc.ClientConn // resource workloads
	// watchPrefix is resource-watch's name prefix, new for every run, so
	// that its watchers start with an empty snapshot.
	watchPrefix string
	// measureStart is the UnixNano time from which results count
	// (math.MaxInt64 until the run starts).
	measureStart atomic.Int64
}

// errFillDone ends a fill worker's loop.
var errFillDone = errors.New("key space filled")

// Run runs one benchmark and returns its report. Cancelling ctx ends the
// run early: the report then covers what was measured and says so.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg.withDefaults()}
	r.measureStart.Store(1<<63 - 1)
	defer r.close()
	if err := r.dial(ctx); err != nil {
		return nil, err
	}
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	defer r.teardown()
	return r.run(ctx)
}

// dial opens the connections, each pinned to one endpoint, and checks that
// every endpoint answers.
func (r *runner) dial(ctx context.Context) error {
	cfg := r.cfg
	if isSQL(cfg.Workload) {
		return r.dialSQL(ctx)
	}
	if isResource(cfg.Workload) {
		return r.dialResource(ctx)
	}
	for i := range cfg.Conns {
		ep := endpointOfConn(cfg.Endpoints, i)
		cli, err := newClient(ctx, cfg, ep)
		if err != nil {
			return err
		}
		r.conns = append(r.conns, cli)
		if i < len(cfg.Endpoints) {
			r.used = append(r.used, ep)
		}
	}
	if cfg.Consistency == Serializable {
		r.readOpts = []clientv3.OpOption{clientv3.WithSerializable()}
	}
	for i := range cfg.Clients {
		w := newWorker(cfg, i)
		w.cli = r.conns[connOfClient(cfg.Conns, i)]
		r.workers = append(r.workers, w)
	}
	return nil
}

// newWorker is worker i with its random source and a random value of
// ValueSize lowercase letters.
func newWorker(cfg Config, i int) *worker {
	val := make([]byte, cfg.ValueSize)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
	for j := range val {
		val[j] = byte('a' + rng.IntN(26))
	}
	return &worker{id: i, rng: rng, val: val, sval: string(val), rec: newRecorder()}
}

// newClient connects to one endpoint and checks that it answers a read.
func newClient(ctx context.Context, cfg Config, ep string) (*clientv3.Client, error) {
	timeout := cfg.DialTimeout
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: timeout, Logger: zap.NewNop(),
		DialKeepAliveTime: 30 * time.Second, TLS: cfg.Security.TLS, Username: cfg.Security.Username, Password: cfg.Security.Password})
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", ep, err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := cli.Get(pctx, "\x00bench-probe", clientv3.WithSerializable(), clientv3.WithCountOnly()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("endpoint %s does not answer: %w", ep, err)
	}
	return cli, nil
}

func (r *runner) close() {
	for _, c := range r.conns {
		c.Close()
	}
	for _, c := range r.resConns {
		c.Close()
	}
	if r.sqlHTTP != nil {
		r.sqlHTTP.CloseIdleConnections()
	}
}

// setup prepares the workload: preloaded keys, leases, watchers.
func (r *runner) setup(ctx context.Context) error {
	cfg := r.cfg
	switch cfg.Workload {
	case SQLInsert, SQLTxn, SQLQuery:
		return r.setupSQL(ctx)
	case ResourceWrite, ResourceRead, ResourceWatch:
		return r.setupResource(ctx)
	case Get, Mixed:
		if cfg.Preload {
			if err := r.preload(ctx); err != nil {
				return fmt.Errorf("preload: %w", err)
			}
		}
	case LeaseKeepAlive:
		for _, w := range r.workers {
			gctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			resp, err := w.cli.Grant(gctx, 600)
			cancel()
			if err != nil {
				return fmt.Errorf("grant a lease: %w", err)
			}
			w.lease = resp.ID
		}
	case Watch:
		return r.startWatchers(ctx)
	}
	return nil
}

func (r *runner) teardown() {
	if r.watch != nil {
		r.watch.stop()
	}
	if r.cfg.Workload == LeaseKeepAlive {
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
		defer cancel()
		for _, w := range r.workers {
			if w.lease != 0 {
				w.cli.Revoke(ctx, w.lease)
			}
		}
	}
}

// preload writes the whole key space unless it is already there.
func (r *runner) preload(ctx context.Context) error {
	cfg := r.cfg
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	resp, err := r.conns[0].Get(pctx, cfg.Prefix+"k/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return err
	}
	if resp.Count >= int64(cfg.KeySpace) {
		return nil
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "preloading %d keys...\n", cfg.KeySpace)
	}
	r.fillNext.Store(0)
	errc := make(chan error, len(r.workers))
	for _, w := range r.workers {
		go func() {
			for {
				octx, cancel := context.WithTimeout(ctx, cfg.Timeout)
				err := r.fill(octx, w, min(cfg.Batch, 64))
				cancel()
				if err != nil {
					if errors.Is(err, errFillDone) {
						err = nil
					}
					errc <- err
					return
				}
			}
		}()
	}
	var errs []error
	for range r.workers {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

// run drives the workers through warmup and the measured phase.
func (r *runner) run(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	start := time.Now()
	measureStart := start.Add(cfg.Warmup)
	r.measureStart.Store(measureStart.UnixNano())
	var end time.Time // zero: until Total operations (or the key space for fill)
	if cfg.Duration > 0 {
		end = measureStart.Add(cfg.Duration)
	}
	var sched *schedule
	if cfg.Rate > 0 {
		sched = newSchedule(start, cfg.Rate)
	}
	var claimed atomic.Int64 // measured operations claimed, for Total
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(runCtx, w, sched, measureStart, end, &claimed)
		}()
	}
	done := make(chan struct{})
	var pwg sync.WaitGroup
	if cfg.Progress != nil {
		pwg.Add(1)
		go func() { defer pwg.Done(); r.progress(cfg.Progress, start, measureStart, done) }()
	}
	wg.Wait()
	finish := time.Now()
	interrupted := ctx.Err() != nil

	t := merge(r.recorders())
	rep := r.report(t)
	rep.Interrupted = interrupted
	rep.Seconds = finish.Sub(measureStart).Seconds()
	if rep.Seconds > 0 {
		rep.Throughput = float64(rep.Ops) / rep.Seconds
	}
	if sched != nil && !end.IsZero() && !interrupted {
		dueByEnd := sched.due(end.Add(-time.Nanosecond))
		rep.Missed = max(0, dueByEnd-min(sched.next.Load(), dueByEnd))
	}
	if r.watch != nil {
		rep.Watch = r.watch.finish(ctx, rep.Ops)
	}
	close(done)
	pwg.Wait()
	return rep, nil
}

// loop is one worker's life.
func (r *runner) loop(ctx context.Context, w *worker, sched *schedule, measureStart, end time.Time, claimed *atomic.Int64) {
	cfg := r.cfg
	var timer *time.Timer
	for ctx.Err() == nil {
		var due time.Time
		if sched != nil {
			if !end.IsZero() && !time.Now().Before(end) {
				return
			}
			_, due = sched.take()
			if !end.IsZero() && !due.Before(end) {
				return
			}
			if d := time.Until(due); d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
				} else {
					timer.Reset(d)
				}
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			}
		} else {
			due = time.Now()
			if !end.IsZero() && !due.Before(end) {
				return
			}
		}
		measured := !due.Before(measureStart)
		if measured && cfg.Total > 0 && claimed.Add(1) > cfg.Total {
			return
		}
		octx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		err := r.op(octx, w, due)
		cancel()
		if errors.Is(err, errFillDone) || ctx.Err() != nil {
			return
		}
		if measured {
			w.rec.record(time.Since(due), err)
		}
	}
}

func (r *runner) recorders() []*recorder {
	recs := make([]*recorder, len(r.workers))
	for i, w := range r.workers {
		recs[i] = w.rec
	}
	return recs
}

func (r *runner) report(t totals) *Report {
	cfg := r.cfg
	rep := &Report{Workload: cfg.Workload, Endpoints: r.used, Clients: cfg.Clients, Conns: cfg.Conns,
		ValueSize: cfg.ValueSize, KeySpace: cfg.KeySpace, Rate: cfg.Rate,
		Ops: t.hist.TotalCount(), Errors: t.errorCount(), Latency: summarize(t.hist), Conflicts: t.conflicts}
	switch cfg.Workload {
	case Get, TxnCAS:
		rep.Consistency = cfg.Consistency
	case SQLQuery:
		rep.Consistency = cfg.Level
	case ResourceRead:
		rep.Consistency = cfg.ResourceConsistency
	case Mixed:
		rep.Consistency, rep.ReadRatio = cfg.Consistency, cfg.ReadRatio
	}
	if len(t.errs) > 0 {
		rep.ErrorsByKind = cloneErrs(t.errs)
	}
	return rep
}

// progress prints a status line every second until done.
func (r *runner) progress(w io.Writer, start, measureStart time.Time, done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastOps int64
	last := measureStart
	for {
		select {
		case <-done:
			fmt.Fprint(w, "\r\033[K")
			return
		case now := <-tick.C:
			if now.Sub(measureStart) < 500*time.Millisecond {
				fmt.Fprintf(w, "\r\033[K%s warmup %.0fs/%.0fs", r.cfg.Workload, now.Sub(start).Seconds(), r.cfg.Warmup.Seconds())
				continue
			}
			t := merge(r.recorders())
			ops := t.hist.TotalCount()
			rate := float64(ops-lastOps) / now.Sub(last).Seconds()
			lastOps, last = ops, now
			line := fmt.Sprintf("%s %5.0fs  %8.0f ops/s  p99 %s  ops %d  errors %d", r.cfg.Workload,
				now.Sub(measureStart).Seconds(), rate, fmtMS(float64(t.hist.ValueAtQuantile(99))/1000), ops, t.errorCount())
			if r.watch != nil {
				wt := merge(r.watch.recs)
				line += fmt.Sprintf("  events %d  event p99 %s", wt.hist.TotalCount(), fmtMS(float64(wt.hist.ValueAtQuantile(99))/1000))
			}
			fmt.Fprintf(w, "\r\033[K%s", line)
		}
	}
}
