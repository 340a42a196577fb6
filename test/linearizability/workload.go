package linearizability

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Workload is what the clients of a scenario do.
type Workload struct {
	// RegisterClients read and write single-key registers; MultiClients read
	// and write the multi-key set through txn; LockClients take the lock and
	// write the fenced counter. Each client is its own clientv3 client.
	RegisterClients, MultiClients, LockClients int
	// Keys is the number of register keys.
	Keys int
	// OpTimeout bounds one operation; a write that runs out of it is
	// recorded as unknown.
	OpTimeout time.Duration
	// LockTTL is the lock sessions' lease TTL in seconds.
	LockTTL int
	// DurablePercent is the share of a register client's operations that
	// are unique puts under dur/, checked for survival at the end.
	DurablePercent int
	// MaxOpsPerClient bounds each client's loop besides the duration.
	MaxOpsPerClient int
	// SQLClients use the SQL API (sql_workload.go): a register per row and
	// durable inserts. Default 2; negative means none.
	SQLClients int
	// BankClients run interactive SQL transactions (sql_bank.go): transfers
	// and audits of a constant total. Default 2; negative means none.
	BankClients int
	// ResourceClients use Consul's ResourceService (resource_workload.go):
	// a register per resource and durable creates. Default 2; negative
	// means none.
	ResourceClients int
	// ResourceWatchers watch the resource clients' type and resume by
	// version (resource_watch.go). Default 2; negative means none.
	ResourceWatchers int
}

func (w *Workload) setDefaults() {
	if w.RegisterClients+w.MultiClients+w.LockClients == 0 {
		w.RegisterClients, w.MultiClients, w.LockClients = 4, 2, 2
	}
	if w.Keys == 0 {
		w.Keys = 6
	}
	if w.OpTimeout == 0 {
		w.OpTimeout = 2 * time.Second
	}
	if w.LockTTL == 0 {
		w.LockTTL = 2
	}
	if w.DurablePercent == 0 {
		w.DurablePercent = 15
	}
	if w.MaxOpsPerClient == 0 {
		w.MaxOpsPerClient = 20000
	}
	if w.SQLClients == 0 {
		w.SQLClients = 2
	}
	if w.BankClients == 0 {
		w.BankClients = 2
	}
	if w.ResourceClients == 0 {
		w.ResourceClients = 2
	}
	if w.ResourceWatchers == 0 {
		w.ResourceWatchers = 2
	}
}

// Key prefixes of the workload.
const (
	regPrefix     = "lin/reg/"
	multiPrefix   = "lin/multi/"
	lockPrefix    = "lin/lock/"
	counterKey    = "lin/counter"
	durablePrefix = "lin/dur/"
)

// run holds the shared state of one workload run.
type run struct {
	w     Workload
	rec   *Recorder
	locks *LockHistory
	dial  func() (*clientv3.Client, error)
	// endpoints are the members' client addresses now (SQL clients pick
	// one per request).
	endpoints func() []string
	sql       sqlState
	bank      bankState
	res       resState
	mu        sync.Mutex
	acked     []string // durable keys whose put was acknowledged
	errs      int
	lastErr   error
}

func (r *run) ack(key string) {
	r.mu.Lock()
	r.acked = append(r.acked, key)
	r.mu.Unlock()
}

func (r *run) failed(err error) {
	r.mu.Lock()
	r.errs++
	r.lastErr = err
	r.mu.Unlock()
}

// worker is one client loop.
type worker struct {
	r      *run
	id     int
	cli    *clientv3.Client
	rng    *rand.Rand
	client int // logical client id in the history
	seq    int
}

func (k *worker) value() string {
	k.seq++
	return "c" + strconv.Itoa(k.id) + "-" + strconv.Itoa(k.seq)
}

// op runs fn with the operation timeout and records it.
func (k *worker) op(ctx context.Context, input any, fn func(context.Context) (any, error), unknown any) (any, bool) {
	call := k.r.rec.Now()
	octx, cancel := context.WithTimeout(ctx, k.r.w.OpTimeout)
	out, err := fn(octx)
	cancel()
	if err != nil {
		k.r.failed(err)
		k.r.rec.Add(Op{Client: k.client, Call: call, Unknown: true, Input: input, Output: unknown})
		k.client = k.r.rec.NewClient()
		k.backoff(ctx)
		return nil, false
	}
	k.r.rec.Add(Op{Client: k.client, Call: call, Return: k.r.rec.Now(), Input: input, Output: out})
	return out, true
}

// backoff pauses briefly after an error so that a down cluster is not
// hammered.
func (k *worker) backoff(ctx context.Context) {
	t := time.NewTimer(time.Duration(20+k.rng.Intn(80)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

type lastRead struct {
	val string
	rev int64
}

func (k *worker) registerLoop(ctx context.Context) {
	seen := map[string]lastRead{}
	for n := 0; n < k.r.w.MaxOpsPerClient && ctx.Err() == nil; n++ {
		p := k.rng.Intn(100)
		if p < k.r.w.DurablePercent {
			k.durablePut(ctx)
			continue
		}
		key := regPrefix + strconv.Itoa(k.rng.Intn(k.r.w.Keys))
		last, haveLast := seen[key]
		switch {
		case p < 55 || (p >= 80 && !haveLast):
			in := RegInput{Op: "get", Key: key}
			out, ok := k.op(ctx, in, func(ctx context.Context) (any, error) {
				resp, err := k.cli.Get(ctx, key)
				if err != nil {
					return nil, err
				}
				o := RegOutput{}
				if len(resp.Kvs) > 0 {
					o.Value, o.Rev = string(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
				}
				return o, nil
			}, RegOutput{Unknown: true})
			if ok && out.(RegOutput).Value != "" {
				seen[key] = lastRead{out.(RegOutput).Value, out.(RegOutput).Rev}
			}
		case p < 80:
			in := RegInput{Op: "put", Key: key, Value: k.value()}
			k.op(ctx, in, func(ctx context.Context) (any, error) {
				resp, err := k.cli.Put(ctx, key, in.Value)
				if err != nil {
					return nil, err
				}
				return RegOutput{Rev: resp.Header.Revision}, nil
			}, RegOutput{Unknown: true})
		default:
			in := RegInput{Op: "cas", Key: key, Value: k.value(), Expect: last.val, Rev: last.rev}
			k.op(ctx, in, func(ctx context.Context) (any, error) {
				resp, err := k.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", last.rev)).
					Then(clientv3.OpPut(key, in.Value)).Commit()
				if err != nil {
					return nil, err
				}
				return RegOutput{OK: resp.Succeeded, Rev: resp.Header.Revision}, nil
			}, RegOutput{Unknown: true})
			delete(seen, key)
		}
	}
}

// durablePut writes a unique key that must survive everything once
// acknowledged, with its durableValue.
func (k *worker) durablePut(ctx context.Context) {
	key := durablePrefix + k.value()
	octx, cancel := context.WithTimeout(ctx, k.r.w.OpTimeout)
	_, err := k.cli.Put(octx, key, durableValue(key))
	cancel()
	if err != nil {
		k.r.failed(err)
		k.backoff(ctx)
		return
	}
	k.r.ack(key)
}

// durableValue is the value a durable put writes under key: derived from
// the key, so the final check can tell a wrong value from a right one.
func durableValue(key string) string { return "v:" + key }

func multiKey(i int) string { return multiPrefix + strconv.Itoa(i) }

func (k *worker) multiLoop(ctx context.Context) {
	var last *MultiOutput
	for n := 0; n < k.r.w.MaxOpsPerClient && ctx.Err() == nil; n++ {
		p := k.rng.Intn(100)
		switch {
		case p < 50 || (p >= 80 && last == nil):
			out, ok := k.op(ctx, MultiInput{Op: "read"}, func(ctx context.Context) (any, error) {
				ops := make([]clientv3.Op, MultiKeys)
				for i := range ops {
					ops[i] = clientv3.OpGet(multiKey(i))
				}
				resp, err := k.cli.Txn(ctx).Then(ops...).Commit()
				if err != nil {
					return nil, err
				}
				var o MultiOutput
				for i, r := range resp.Responses {
					if kvs := r.GetResponseRange().Kvs; len(kvs) > 0 {
						o.Values[i], o.Revs[i] = string(kvs[0].Value), kvs[0].ModRevision
					}
				}
				return o, nil
			}, MultiOutput{Unknown: true})
			if ok {
				o := out.(MultiOutput)
				last = &o
			}
		default:
			in := MultiInput{Op: "write", Writes: map[int]string{}}
			for len(in.Writes) == 0 {
				for i := range MultiKeys {
					if k.rng.Intn(2) == 0 {
						in.Writes[i] = k.value()
					}
				}
			}
			var cmps []clientv3.Cmp
			if p >= 80 {
				in.Op, in.ExpectKey = "cas", k.rng.Intn(MultiKeys)
				in.Expect, in.Rev = last.Values[in.ExpectKey], last.Revs[in.ExpectKey]
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(multiKey(in.ExpectKey)), "=", in.Rev))
				last = nil
			}
			var puts []clientv3.Op
			for i := range MultiKeys {
				if v, ok := in.Writes[i]; ok {
					puts = append(puts, clientv3.OpPut(multiKey(i), v))
				}
			}
			k.op(ctx, in, func(ctx context.Context) (any, error) {
				resp, err := k.cli.Txn(ctx).If(cmps...).Then(puts...).Commit()
				if err != nil {
					return nil, err
				}
				return MultiOutput{OK: resp.Succeeded, Rev: resp.Header.Revision}, nil
			}, MultiOutput{Unknown: true})
		}
	}
}

func (k *worker) lockLoop(ctx context.Context) {
	var sess *concurrency.Session
	defer func() {
		if sess != nil {
			sess.Close()
		}
	}()
	for n := 0; n < k.r.w.MaxOpsPerClient && ctx.Err() == nil; n++ {
		if sess == nil {
			var err error
			sess, err = concurrency.NewSession(k.cli, concurrency.WithTTL(k.r.w.LockTTL), concurrency.WithContext(ctx))
			if err != nil {
				k.r.failed(err)
				k.backoff(ctx)
				continue
			}
		}
		if err := k.hold(ctx, sess); err != nil {
			k.r.failed(err)
			sess.Close()
			sess = nil
			k.backoff(ctx)
		}
	}
}

// hold takes the lock, makes one to three fenced increments and releases it.
func (k *worker) hold(ctx context.Context, sess *concurrency.Session) error {
	m := concurrency.NewMutex(sess, lockPrefix)
	lctx, cancel := context.WithTimeout(ctx, 4*k.r.w.OpTimeout)
	err := m.Lock(lctx)
	cancel()
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	guard := m.IsOwner()
	cr, ok := guard.TargetUnion.(*pb.Compare_CreateRevision)
	if !ok {
		return errors.New("lock: unexpected IsOwner comparison")
	}
	h := Hold{Client: k.id, Token: cr.CreateRevision, Acquired: k.r.rec.Now()}
	defer func() { k.r.locks.Add(h) }()
	var lost error
	for range 1 + k.rng.Intn(3) {
		if lost = k.increment(ctx, guard, &h); lost != nil {
			break
		}
	}
	uctx, cancel := context.WithTimeout(ctx, k.r.w.OpTimeout)
	defer cancel()
	if err := m.Unlock(uctx); err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	return lost
}

// increment reads the counter and writes it plus one, guarded by the lock.
func (k *worker) increment(ctx context.Context, guard clientv3.Cmp, h *Hold) error {
	octx, cancel := context.WithTimeout(ctx, k.r.w.OpTimeout)
	defer cancel()
	resp, err := k.cli.Get(octx, counterKey)
	if err != nil {
		return err
	}
	var val, rev int64
	if len(resp.Kvs) > 0 {
		val, _ = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
		rev = resp.Kvs[0].ModRevision
	}
	w := GuardedWrite{Call: k.r.rec.Now()}
	tr, err := k.cli.Txn(octx).If(guard, clientv3.Compare(clientv3.ModRevision(counterKey), "=", rev)).
		Then(clientv3.OpPut(counterKey, strconv.FormatInt(val+1, 10))).Commit()
	w.Return = k.r.rec.Now()
	switch {
	case err != nil:
		w.Unknown = true
	case tr.Succeeded:
		w.OK, w.Rev = true, tr.Header.Revision
	}
	h.Writes = append(h.Writes, w)
	if err != nil {
		return err
	}
	if !tr.Succeeded {
		return errors.New("lock lost: guarded increment refused")
	}
	return nil
}
