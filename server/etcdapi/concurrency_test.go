package etcdapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

func newSession(t testing.TB, cli *clientv3.Client) *concurrency.Session {
	t.Helper()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testMutex: goroutines on different members take turns on one
// concurrency.Mutex. Critical sections never overlap (an in-process flag),
// a read-modify-write counter loses no update, and the fencing token (the
// create revision of the holder's lock key) strictly increases from one
// holder to the next; writes fenced with IsOwner succeed.
func testMutex(t *testing.T, c *agenttest.Cluster) {
	const workers, rounds = 6, 4
	ctx := testCtx(t, time.Minute)
	var (
		inside    atomic.Int32
		fenceMu   sync.Mutex
		lastFence int64
		wg        sync.WaitGroup
		errs      = make(chan error, workers*rounds)
	)
	for w := range workers {
		cli := c.Client(w % c.Size())
		s := newSession(t, cli)
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := concurrency.NewMutex(s, "mutex/lock")
			for range rounds {
				if err := m.Lock(ctx); err != nil {
					errs <- fmt.Errorf("worker %d lock: %w", w, err)
					return
				}
				if n := inside.Add(1); n != 1 {
					errs <- fmt.Errorf("worker %d: %d holders at once", w, n)
				}
				own, err := cli.Get(ctx, m.Key())
				if err != nil || len(own.Kvs) != 1 {
					errs <- fmt.Errorf("worker %d: own lock key: %v %v", w, err, own)
					return
				}
				fence := own.Kvs[0].CreateRevision
				fenceMu.Lock()
				if fence <= lastFence {
					errs <- fmt.Errorf("worker %d: fencing token %d after %d", w, fence, lastFence)
				}
				lastFence = fence
				fenceMu.Unlock()
				// A read-modify-write fenced by the lock ownership.
				g, err := cli.Get(ctx, "mutex/counter")
				if err != nil {
					errs <- err
					return
				}
				n := 0
				if len(g.Kvs) == 1 {
					n, _ = strconv.Atoi(string(g.Kvs[0].Value))
				}
				tr, err := cli.Txn(ctx).If(m.IsOwner()).Then(clientv3.OpPut("mutex/counter", strconv.Itoa(n+1))).Commit()
				if err != nil || !tr.Succeeded {
					errs <- fmt.Errorf("worker %d: fenced write: %v %v", w, err, tr)
				}
				inside.Add(-1)
				if err := m.Unlock(ctx); err != nil {
					errs <- fmt.Errorf("worker %d unlock: %w", w, err)
					return
				}
				// A write fenced by the released lock must now fail.
				if tr, err := cli.Txn(ctx).If(m.IsOwner()).Then(clientv3.OpPut("mutex/stale", "x")).Commit(); err != nil || tr.Succeeded {
					errs <- fmt.Errorf("worker %d: write fenced by a released lock: %v %v", w, err, tr)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	g := mustGet(t, c.Client(), "mutex/counter")
	if len(g.Kvs) != 1 || string(g.Kvs[0].Value) != strconv.Itoa(workers*rounds) {
		t.Errorf("counter = %v, want %d", valuesOf(g.Kvs), workers*rounds)
	}
	if g := mustGet(t, c.Client(), "mutex/stale"); len(g.Kvs) != 0 {
		t.Errorf("a write fenced by a released lock happened")
	}
	if g := mustGet(t, c.Client(), "mutex/lock", clientv3.WithPrefix()); len(g.Kvs) != 0 {
		t.Errorf("lock keys left: %q", keysOf(g.Kvs))
	}

	t.Run("try lock", func(t *testing.T) {
		s1, s2 := newSession(t, c.Client(0)), newSession(t, c.Client(1))
		m1, m2 := concurrency.NewMutex(s1, "mutex/try"), concurrency.NewMutex(s2, "mutex/try")
		if err := m1.TryLock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m2.TryLock(ctx); err != concurrency.ErrLocked {
			t.Fatalf("second try lock: %v, want ErrLocked", err)
		}
		if err := m1.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m2.TryLock(ctx); err != nil {
			t.Fatalf("try lock after unlock: %v", err)
		}
		m2.Unlock(ctx)
	})

	t.Run("session close releases", func(t *testing.T) {
		cli := c.Client(2)
		s, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
		if err != nil {
			t.Fatal(err)
		}
		m := concurrency.NewMutex(s, "mutex/sess")
		if err := m.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			m2 := concurrency.NewMutex(newSession(t, c.Client(0)), "mutex/sess")
			got <- m2.Lock(ctx)
		}()
		s.Close() // revokes the session lease: the waiter acquires
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatal("waiter never acquired the lock")
		}
	})
}

// testElection: campaign, leader, observe, proclaim, resign, with
// candidates on different members.
func testElection(t *testing.T, c *agenttest.Cluster) {
	ctx := testCtx(t, time.Minute)
	s1, s2 := newSession(t, c.Client(0)), newSession(t, c.Client(1))
	e1 := concurrency.NewElection(s1, "elect/")
	e2 := concurrency.NewElection(s2, "elect/")
	observer := concurrency.NewElection(newSession(t, c.Client(2)), "elect/")

	if _, err := observer.Leader(ctx); err != concurrency.ErrElectionNoLeader {
		t.Fatalf("leader before any campaign: %v, want ErrElectionNoLeader", err)
	}
	if err := e1.Campaign(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	octx, ocancel := context.WithCancel(ctx)
	defer ocancel()
	obs := observer.Observe(octx)
	expect := func(want string) {
		t.Helper()
		for {
			select {
			case resp, ok := <-obs:
				if !ok {
					t.Fatalf("observe channel closed waiting for %q", want)
				}
				if len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == want {
					return
				}
				// Observe may report intermediate states; keep reading.
			case <-ctx.Done():
				t.Fatalf("never observed %q", want)
			}
		}
	}
	expect("v1")
	if l, err := observer.Leader(ctx); err != nil || string(l.Kvs[0].Value) != "v1" {
		t.Fatalf("leader: %v %v", err, l)
	}

	won := make(chan error, 1)
	go func() { won <- e2.Campaign(ctx, "v2") }()
	// e2 waits behind e1: its key exists with a later create revision.
	waitUntil(t, 10*time.Second, "the second candidate's key", func() bool {
		g, err := c.Client(2).Get(ctx, "elect/", clientv3.WithPrefix())
		return err == nil && len(g.Kvs) == 2
	})
	select {
	case err := <-won:
		t.Fatalf("second candidate won while the first leads: %v", err)
	default:
	}

	if err := e1.Proclaim(ctx, "v1b"); err != nil {
		t.Fatal(err)
	}
	expect("v1b")
	// clientv3 refuses a proclaim by an election that never campaigned.
	if err := concurrency.NewElection(s2, "elect/").Proclaim(ctx, "nope"); err != concurrency.ErrElectionNotLeader {
		t.Fatalf("proclaim by a non-leader: %v, want ErrElectionNotLeader", err)
	}

	if err := e1.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-won:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("second candidate never won")
	}
	expect("v2")
	if l, err := observer.Leader(ctx); err != nil || string(l.Kvs[0].Value) != "v2" {
		t.Fatalf("leader after resign: %v %v", err, l)
	}
	if err := e2.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := observer.Leader(ctx); err != concurrency.ErrElectionNoLeader {
		t.Fatalf("leader after every resign: %v", err)
	}
}

// testSTM: concurrent transfers between accounts, each an STM on a client
// of a different member, keep the total constant under serializable and
// repeatable-read isolation; serializable read-only STMs see a consistent
// total throughout.
func testSTM(t *testing.T, c *agenttest.Cluster) {
	for _, iso := range []struct {
		name string
		iso  concurrency.Isolation
	}{
		{"serializable snapshot", concurrency.SerializableSnapshot},
		{"serializable", concurrency.Serializable},
		{"repeatable reads", concurrency.RepeatableReads},
	} {
		t.Run(iso.name, func(t *testing.T) {
			const accounts, initial, workers, transfers = 5, 100, 3, 8
			ctx := testCtx(t, time.Minute)
			prefix := fmt.Sprintf("stm/%d/", iso.iso)
			acct := func(i int) string { return fmt.Sprintf("%sacct%d", prefix, i) }
			for i := range accounts {
				mustPut(t, c.Client(), acct(i), strconv.Itoa(initial))
			}
			var wg sync.WaitGroup
			errs := make(chan error, workers*transfers+1)
			stop := make(chan struct{})
			for w := range workers {
				cli := c.Client(w % c.Size())
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 7))
					for range transfers {
						from, to := rng.IntN(accounts), rng.IntN(accounts-1)
						if to >= from {
							to++
						}
						amount := 1 + rng.IntN(20)
						transfer := func(s concurrency.STM) error {
							fb, _ := strconv.Atoi(s.Get(acct(from)))
							tb, _ := strconv.Atoi(s.Get(acct(to)))
							if fb < amount {
								return nil
							}
							s.Put(acct(from), strconv.Itoa(fb-amount))
							s.Put(acct(to), strconv.Itoa(tb+amount))
							return nil
						}
						_, err := concurrency.NewSTM(cli, transfer, concurrency.WithIsolation(iso.iso), concurrency.WithAbortContext(ctx))
						// A server-side timeout (a stall on a loaded machine)
						// is an availability matter, not isolation: retry it
						// as an application would. Re-running the STM is safe
						// for the invariant even if the first commit landed.
						for retry := 0; retry < 3 && err == rpctypes.ErrTimeout; retry++ {
							t.Logf("worker %d: %v; retrying", w, err)
							_, err = concurrency.NewSTM(cli, transfer, concurrency.WithIsolation(iso.iso), concurrency.WithAbortContext(ctx))
						}
						if err != nil {
							errs <- fmt.Errorf("worker %d: %w", w, err)
							return
						}
					}
				}()
			}
			// A concurrent auditor: a serializable STM reading every
			// account must always see the initial total.
			auditDone := make(chan struct{})
			go func() {
				defer close(auditDone)
				cli := c.Client(2)
				for {
					select {
					case <-stop:
						return
					default:
					}
					total := 0
					_, err := concurrency.NewSTM(cli, func(s concurrency.STM) error {
						total = 0
						for i := range accounts {
							v, _ := strconv.Atoi(s.Get(acct(i)))
							total += v
						}
						return nil
					}, concurrency.WithIsolation(concurrency.SerializableSnapshot), concurrency.WithAbortContext(ctx))
					if err != nil {
						errs <- fmt.Errorf("auditor: %w", err)
						return
					}
					if total != accounts*initial {
						errs <- fmt.Errorf("auditor saw a total of %d, want %d", total, accounts*initial)
						return
					}
				}
			}()
			wg.Wait()
			close(stop)
			<-auditDone
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			g := mustGet(t, c.Client(), prefix, clientv3.WithPrefix())
			total := 0
			for _, kv := range g.Kvs {
				v, _ := strconv.Atoi(string(kv.Value))
				total += v
			}
			if total != accounts*initial || len(g.Kvs) != accounts {
				t.Errorf("total %d over %d accounts, want %d over %d", total, len(g.Kvs), accounts*initial, accounts)
			}
		})
	}
}
