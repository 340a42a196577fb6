package linearizability

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// FaultKind names a fault. Each level supports a subset (see its Cluster).
type FaultKind string

// The faults.
const (
	// PartitionMinority cuts a random minority of followers off the rest.
	PartitionMinority FaultKind = "partition-minority"
	// PartitionMajority puts the leader on the minority side: the majority
	// must elect a new leader while the old one still believes it leads.
	PartitionMajority FaultKind = "partition-majority"
	// IsolateLeader cuts the leader off from every other member.
	IsolateLeader FaultKind = "isolate-leader"
	// Bridge splits the members into two halves that only one member, the
	// bridge, can reach both of.
	Bridge FaultKind = "bridge"
	// RandomHalves splits the members into two random halves.
	RandomHalves FaultKind = "random-halves"
	// Loss drops messages on every link with a random probability.
	Loss FaultKind = "loss"
	// Delay adds latency (with jitter) to every link.
	Delay FaultKind = "delay"
	// Crash kills a random member (the leader half of the time) as kill -9
	// does and restarts it on its data dir when the fault ends.
	Crash FaultKind = "crash"
	// Pause stops a random member (SIGSTOP, docker pause) and resumes it.
	Pause FaultKind = "pause"
	// KillAll kills every member at once and restarts them all.
	KillAll FaultKind = "kill-all"
	// TransferLeader moves leadership to a random follower (MoveLeader).
	TransferLeader FaultKind = "transfer-leader"
	// Membership adds a fresh voter, and when the fault ends removes a
	// random follower voter (which may be the new one).
	Membership FaultKind = "membership"
	// SnapshotInstall cuts a follower off long enough that the leader
	// compacts its log past it, so it catches up from a snapshot.
	SnapshotInstall FaultKind = "snapshot-install"
	// Disconnect takes a member off the network (docker network disconnect).
	Disconnect FaultKind = "disconnect"
)

// ErrUnsupported is returned by a Cluster for a fault it cannot inject.
var ErrUnsupported = errors.New("fault not supported at this level")

// Fault is one scheduled fault.
type Fault struct {
	Kind FaultKind
	At   time.Duration // since the workload started
	For  time.Duration // how long until it is undone
	Seed int64         // chooses the victims, at injection time
}

func (f Fault) String() string {
	return fmt.Sprintf("%s@%s/%s", f.Kind, f.At.Round(time.Millisecond), f.For.Round(time.Millisecond))
}

// Scenario is one run: a workload, a fault schedule derived from a seed,
// and a duration. The same Scenario drives every level.
type Scenario struct {
	Name     string
	Seed     int64
	Duration time.Duration
	// Faults are the kinds the schedule picks from, uniformly.
	Faults []FaultKind
	// FaultFor and FaultGap bound how long a fault lasts and the quiet time
	// before the next one. Defaults: 1-3s and 0.5-1.5s.
	FaultFor, FaultGap [2]time.Duration
	Workload           Workload
	// CrashAllAtEnd kills every member at once after the workload and
	// restarts them before the durability check.
	CrashAllAtEnd bool
	// Driver, when set, replaces the fault schedule (Faults is then
	// ignored): it runs while the workload does, the workload stops when
	// it returns, and it returns how many faults it caused. Its ctx ends
	// at Duration, which thus bounds it. test/docker's rolling restart of
	// every member is one.
	Driver func(ctx context.Context, t testing.TB) int
}

func (s *Scenario) setDefaults() {
	if s.FaultFor == [2]time.Duration{} {
		s.FaultFor = [2]time.Duration{time.Second, 3 * time.Second}
	}
	if s.FaultGap == [2]time.Duration{} {
		s.FaultGap = [2]time.Duration{500 * time.Millisecond, 1500 * time.Millisecond}
	}
	s.Workload.setDefaults()
}

func between(rng *rand.Rand, r [2]time.Duration) time.Duration {
	if r[1] <= r[0] {
		return r[0]
	}
	return r[0] + time.Duration(rng.Int63n(int64(r[1]-r[0])))
}

// Schedule is the scenario's fault schedule: a pure function of the seed.
func (s Scenario) Schedule() []Fault {
	s.setDefaults()
	if len(s.Faults) == 0 {
		return nil
	}
	rng := rand.New(rand.NewSource(s.Seed))
	var out []Fault
	at := between(rng, s.FaultGap)
	for {
		f := Fault{Kind: s.Faults[rng.Intn(len(s.Faults))], At: at, For: between(rng, s.FaultFor), Seed: rng.Int63()}
		if f.At+f.For > s.Duration {
			return out
		}
		out = append(out, f)
		at = f.At + f.For + between(rng, s.FaultGap)
	}
}

// String describes the scenario so that a failure can be replayed.
func (s Scenario) String() string {
	kinds := make([]string, len(s.Faults))
	for i, k := range s.Faults {
		kinds[i] = string(k)
	}
	return fmt.Sprintf("%s seed=%d duration=%s faults=[%s]", s.Name, s.Seed, s.Duration, strings.Join(kinds, ","))
}

// Cluster is a running cluster at some level (in-process, processes,
// containers) that faults can be injected into.
type Cluster interface {
	// Endpoints are the client addresses of the members.
	Endpoints() []string
	// Inject starts fault f. undo ends it. desc says what was done.
	Inject(ctx context.Context, f Fault) (desc string, undo func(context.Context) error, err error)
	// Heal ends every fault and waits until every member runs, and one
	// leader serves.
	Heal(ctx context.Context) error
	// CrashAll kills every member at once (kill -9) and restarts them all.
	CrashAll(ctx context.Context) error
}

// Report is the outcome of one scenario run.
type Report struct {
	Scenario Scenario
	Faults   int
	Verdict  Verdict
	Acked    int // acknowledged durable writes
	Lost     []string
	Errors   int // client errors (each an unknown or failed op)
}

// Run runs s against c and checks the history. It fails t on a violation,
// a lost write, or a cluster that does not recover.
func Run(t testing.TB, s Scenario, c Cluster) Report {
	t.Helper()
	s.setDefaults()
	t.Logf("scenario %s", s)
	r := &run{w: s.Workload, rec: NewRecorder(), locks: &LockHistory{Final: -1}, dial: func() (*clientv3.Client, error) {
		return newClient(c.Endpoints())
	}, endpoints: c.Endpoints}
	rep := Report{Scenario: s}
	ctx, cancel := context.WithTimeout(context.Background(), s.Duration)
	defer cancel()

	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	var wg sync.WaitGroup
	startWorkers(wctx, t, s, r, &wg)
	if s.Driver != nil {
		rep.Faults = s.Driver(ctx, t)
		wcancel()
	} else {
		rep.Faults = runSchedule(ctx, t, s, c, r.rec)
	}
	wg.Wait()

	hctx, hcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer hcancel()
	if err := c.Heal(hctx); err != nil {
		t.Fatalf("cluster did not recover after %s: %v", s, err)
	}
	if s.CrashAllAtEnd {
		t.Logf("kill -9 of every member at once, then restart")
		rep.Faults++
		if err := c.CrashAll(hctx); err != nil {
			t.Fatalf("cluster did not come back after killing every member: %v", err)
		}
	}
	final, present, err := readFinal(hctx, c.Endpoints())
	if err != nil {
		t.Fatalf("reading the final state after %s: %v", s, err)
	}
	for _, k := range r.acked {
		switch v, ok := present[k]; {
		case !ok:
			rep.Lost = append(rep.Lost, k)
		case v != durableValue(k):
			rep.Lost = append(rep.Lost, fmt.Sprintf("%s (value %q, want %q)", k, v, durableValue(k)))
		}
	}
	rep.Acked, rep.Errors = len(r.acked), r.errs
	rep.Verdict = Check(s.Name, ArtifactDir(), r.rec.Ops(), r.locks.Holds(), final)
	checkSQL(hctx, t, s, c, r, &rep)
	checkBank(hctx, t, s, c, r, &rep)
	checkResource(hctx, t, s, c, r, &rep)
	t.Logf("%s: %d ops (%d unknown), %d faults, %d histories, %d violations, %d/%d acknowledged durable writes lost, %d client errors (last: %v)",
		s.Name, rep.Verdict.Ops, rep.Verdict.Unknown, rep.Faults, rep.Verdict.Histories, len(rep.Verdict.Violations),
		len(rep.Lost), rep.Acked, rep.Errors, r.lastErr)
	Record(rep)
	for _, v := range rep.Verdict.Violations {
		t.Errorf("VIOLATION in %s: %s", s, v)
	}
	for _, f := range rep.Verdict.Files {
		t.Errorf("history and visualization: %s", f)
	}
	for _, v := range rep.Verdict.Inconclusive {
		t.Logf("inconclusive in %s: %s", s, v)
	}
	if len(rep.Lost) > 0 {
		t.Errorf("LOST WRITES in %s: %d acknowledged durable puts are gone, e.g. %v", s, len(rep.Lost), rep.Lost[:min(5, len(rep.Lost))])
	}
	if len(rep.Verdict.Violations) > 0 || len(rep.Lost) > 0 {
		t.Errorf("replay: the scenario above (same seed gives the same schedule and workload choices)")
	}
	return rep
}

func newClient(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Logger: quietZap()})
}

func startWorkers(ctx context.Context, t testing.TB, s Scenario, r *run, wg *sync.WaitGroup) {
	w := s.Workload
	kinds := []struct {
		n    int
		loop func(*worker, context.Context)
	}{{w.RegisterClients, (*worker).registerLoop}, {w.MultiClients, (*worker).multiLoop}, {w.LockClients, (*worker).lockLoop},
		{max(0, w.SQLClients), (*worker).sqlLoop}, {max(0, w.BankClients), (*worker).bankLoop},
		{max(0, w.ResourceClients), (*worker).resourceLoop}}
	if w.ResourceClients > 0 && w.ResourceWatchers > 0 {
		r.res.watch = startResourceWatchers(w.ResourceWatchers, s.Seed, r.endpoints)
		t.Cleanup(r.res.watch.stop)
	}
	id := 0
	for _, kind := range kinds {
		for range kind.n {
			cli, err := r.dial()
			if err != nil {
				t.Fatalf("client: %v", err)
			}
			k := &worker{r: r, id: id, cli: cli, rng: rand.New(rand.NewSource(s.Seed*1000 + int64(id))), client: r.rec.NewClient()}
			id++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cli.Close()
				kind.loop(k, ctx)
			}()
		}
	}
}

// runSchedule injects the scenario's faults at their times until ctx ends,
// undoing each before the next. It returns how many it injected.
func runSchedule(ctx context.Context, t testing.TB, s Scenario, c Cluster, rec *Recorder) int {
	start := time.Now()
	n := 0
	for _, f := range s.Schedule() {
		if !sleepUntil(ctx, start.Add(f.At)) {
			break
		}
		fctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		desc, undo, err := c.Inject(fctx, f)
		cancel()
		if err != nil {
			t.Logf("%s +%s: %s not injected: %v", s.Name, time.Since(start).Round(time.Millisecond), f.Kind, err)
			continue
		}
		n++
		t.Logf("%s +%s: inject %s: %s", s.Name, time.Since(start).Round(time.Millisecond), f.Kind, desc)
		sleepUntil(ctx, start.Add(f.At+f.For))
		if undo != nil {
			uctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			if err := undo(uctx); err != nil {
				t.Errorf("%s: undoing %s (%s): %v", s.Name, f.Kind, desc, err)
			}
			cancel()
		}
		t.Logf("%s +%s: healed %s", s.Name, time.Since(start).Round(time.Millisecond), f.Kind)
	}
	return n
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// readFinal reads the lock counter and the durable keys with their
// values, retrying while the cluster settles (bounded by ctx).
func readFinal(ctx context.Context, endpoints []string) (counter int64, present map[string]string, err error) {
	cli, err := newClient(endpoints)
	if err != nil {
		return 0, nil, err
	}
	defer cli.Close()
	for {
		counter, present, err = readFinalOnce(ctx, cli)
		if err == nil || ctx.Err() != nil {
			return counter, present, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readFinalOnce(ctx context.Context, cli *clientv3.Client) (int64, map[string]string, error) {
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cli.Get(octx, durablePrefix, clientv3.WithPrefix())
	if err != nil {
		return 0, nil, err
	}
	present := map[string]string{}
	for _, kv := range resp.Kvs {
		present[string(kv.Key)] = string(kv.Value)
	}
	cr, err := cli.Get(octx, counterKey)
	if err != nil {
		return 0, nil, err
	}
	var counter int64
	if len(cr.Kvs) > 0 {
		fmt.Sscan(string(cr.Kvs[0].Value), &counter)
	}
	return counter, present, nil
}
