package etcdapi_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func testLease(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	ctx := testCtx(t, time.Minute)
	lease, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if lease.ID == 0 || lease.TTL != 30 {
		t.Fatalf("grant: %+v", lease)
	}
	mustPut(t, cli, "lease/basic/a", "1", clientv3.WithLease(lease.ID))
	mustPut(t, cli, "lease/basic/b", "2", clientv3.WithLease(lease.ID))

	t.Run("time to live", func(t *testing.T) {
		for i := range c.Size() { // any member answers, forwarding to the leader
			ttl, err := c.Client(i).TimeToLive(testCtx(t, 20*time.Second), lease.ID, clientv3.WithAttachedKeys())
			if err != nil {
				t.Fatal(err)
			}
			if ttl.ID != lease.ID || ttl.GrantedTTL != 30 || ttl.TTL <= 0 || ttl.TTL > 30 {
				t.Errorf("member %d: %+v", i, ttl)
			}
			var keys []string
			for _, k := range ttl.Keys {
				keys = append(keys, string(k))
			}
			slices.Sort(keys)
			if want := []string{"lease/basic/a", "lease/basic/b"}; !eq(keys, want) {
				t.Errorf("member %d: keys %q, want %q", i, keys, want)
			}
			if ttl, err := c.Client(i).TimeToLive(testCtx(t, 20*time.Second), lease.ID); err != nil || len(ttl.Keys) != 0 {
				t.Errorf("member %d without keys: %v %+v", i, err, ttl)
			}
		}
	})
	t.Run("keep alive once", func(t *testing.T) {
		for i := range c.Size() {
			ka, err := c.Client(i).KeepAliveOnce(testCtx(t, 20*time.Second), lease.ID)
			if err != nil || ka.ID != lease.ID || ka.TTL != 30 {
				t.Errorf("member %d: %v %+v", i, err, ka)
			}
		}
	})
	t.Run("keep alive stream", func(t *testing.T) {
		kctx, cancel := context.WithCancel(testCtx(t, 20*time.Second))
		defer cancel()
		ch, err := cli.KeepAlive(kctx, lease.ID)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case ka, ok := <-ch:
			if !ok || ka.ID != lease.ID || ka.TTL != 30 {
				t.Fatalf("keep alive: %v %+v", ok, ka)
			}
		case <-kctx.Done():
			t.Fatal("no keep-alive response")
		}
	})
	t.Run("leases", func(t *testing.T) {
		ls, err := cli.Leases(testCtx(t, 20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, l := range ls.Leases {
			found = found || l.ID == lease.ID
		}
		if !found {
			t.Errorf("lease %x not in %+v", lease.ID, ls.Leases)
		}
	})
	t.Run("grant with an id", func(t *testing.T) {
		lc := pb.NewLeaseClient(cli.ActiveConnection())
		resp, err := lc.LeaseGrant(testCtx(t, 20*time.Second), &pb.LeaseGrantRequest{ID: 0x1234567, TTL: 30})
		if err != nil || resp.ID != 0x1234567 || resp.TTL != 30 {
			t.Fatalf("grant with id: %v %+v", err, resp)
		}
		_, err = lc.LeaseGrant(testCtx(t, 20*time.Second), &pb.LeaseGrantRequest{ID: 0x1234567, TTL: 30})
		wantErr(t, rpctypes.Error(err), rpctypes.ErrLeaseExist)
		if _, err := cli.Revoke(testCtx(t, 20*time.Second), 0x1234567); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("grant too large", func(t *testing.T) {
		_, err := cli.Grant(testCtx(t, 20*time.Second), 9000000000+1)
		wantErr(t, err, rpctypes.ErrLeaseTTLTooLarge)
	})
	t.Run("unknown lease", func(t *testing.T) {
		const unknown = clientv3.LeaseID(0x5eadbeef)
		ttl, err := cli.TimeToLive(testCtx(t, 20*time.Second), unknown)
		if err != nil || ttl.TTL != -1 || ttl.ID != unknown {
			t.Errorf("time to live of an unknown lease: %v %+v, want TTL -1", err, ttl)
		}
		_, err = cli.KeepAliveOnce(testCtx(t, 20*time.Second), unknown)
		wantErr(t, err, rpctypes.ErrLeaseNotFound)
		_, err = cli.Revoke(testCtx(t, 20*time.Second), unknown)
		wantErr(t, err, rpctypes.ErrLeaseNotFound)
		// clientv3's KeepAlive closes the channel for an unknown lease.
		kctx, cancel := context.WithCancel(testCtx(t, 20*time.Second))
		defer cancel()
		ch, err := cli.KeepAlive(kctx, unknown)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case ka, ok := <-ch:
			if ok {
				t.Errorf("keep alive of an unknown lease answered %+v", ka)
			}
		case <-kctx.Done():
			t.Error("keep-alive channel of an unknown lease not closed")
		}
	})
	t.Run("revoke", func(t *testing.T) {
		rev, err := cli.Revoke(testCtx(t, 20*time.Second), lease.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g := mustGet(t, cli, "lease/basic/", clientv3.WithPrefix()); len(g.Kvs) != 0 {
			t.Errorf("keys left after revoke: %v", keysOf(g.Kvs))
		}
		ttl, err := cli.TimeToLive(testCtx(t, 20*time.Second), lease.ID)
		if err != nil || ttl.TTL != -1 {
			t.Errorf("time to live after revoke: %v %+v", err, ttl)
		}
		_, err = cli.KeepAliveOnce(testCtx(t, 20*time.Second), lease.ID)
		wantErr(t, err, rpctypes.ErrLeaseNotFound)
		ls, err := cli.Leases(testCtx(t, 20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls.Leases {
			if l.ID == lease.ID {
				t.Errorf("revoked lease still listed")
			}
		}
		_, err = cli.Put(testCtx(t, 20*time.Second), "lease/basic/c", "v", clientv3.WithLease(lease.ID))
		wantErr(t, err, rpctypes.ErrLeaseNotFound)
		if rev.Header.Revision == 0 {
			t.Errorf("revoke header: %+v", rev.Header)
		}
	})
}

// watchDeletes watches prefix from rev and returns the delete events of the
// first response, which must hold n of them.
func watchDeletes(t *testing.T, wch clientv3.WatchChan, n int, d time.Duration) ([]*clientv3.Event, time.Time) {
	t.Helper()
	select {
	case resp, ok := <-wch:
		if !ok || resp.Err() != nil {
			t.Fatalf("watch: %v %v", ok, resp.Err())
		}
		if len(resp.Events) != n {
			t.Fatalf("first watch response has %d events, want all %d deletes at once: %v", len(resp.Events), n, resp.Events)
		}
		for _, ev := range resp.Events {
			if ev.Type != mvccpb.DELETE || ev.Kv.ModRevision != resp.Header.Revision {
				t.Fatalf("event %s in a response at revision %d", evString(ev), resp.Header.Revision)
			}
		}
		return resp.Events, time.Now()
	case <-time.After(d):
		t.Fatalf("no deletes within %s", d)
	}
	return nil, time.Time{}
}

// testLeaseRevokeAtomic: the keys of a revoked lease go in one revision, in
// one watch response.
func testLeaseRevokeAtomic(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	ctx := testCtx(t, time.Minute)
	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var last int64
	for i := range n {
		last = mustPut(t, cli, fmt.Sprintf("lease/revoke/%d", i), "v", clientv3.WithLease(lease.ID)).Header.Revision
	}
	mustPut(t, cli, "lease/revoke/unleased", "v")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := cli.Watch(wctx, "lease/revoke/", clientv3.WithPrefix(), clientv3.WithRev(last+2))
	rr, err := cli.Revoke(ctx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Header.Revision != last+2 {
		t.Errorf("revoke revision %d, want %d (one revision for all %d keys)", rr.Header.Revision, last+2, n)
	}
	evs, _ := watchDeletes(t, wch, n, 10*time.Second)
	for i, ev := range evs {
		if ev.Kv.ModRevision != rr.Header.Revision || string(ev.Kv.Key) != fmt.Sprintf("lease/revoke/%d", i) {
			t.Errorf("delete %d: %s, want lease/revoke/%d at %d", i, evString(ev), i, rr.Header.Revision)
		}
	}
	if g := mustGet(t, cli, "lease/revoke/", clientv3.WithPrefix()); !eq(keysOf(g.Kvs), []string{"lease/revoke/unleased"}) {
		t.Errorf("left after revoke: %q", keysOf(g.Kvs))
	}
}

// testLeaseExpiry: an unrenewed lease expires within its TTL plus a couple
// of seconds, not before its TTL, and its keys go in one revision.
func testLeaseExpiry(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	ctx := testCtx(t, time.Minute)
	const ttl = 2
	granted := time.Now()
	lease, err := cli.Grant(ctx, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if lease.TTL != ttl {
		t.Fatalf("granted TTL %d, want %d", lease.TTL, ttl)
	}
	var last int64
	for i := range 3 {
		last = mustPut(t, cli, fmt.Sprintf("lease/expire/%d", i), "v", clientv3.WithLease(lease.ID)).Header.Revision
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := cli.Watch(wctx, "lease/expire/", clientv3.WithPrefix(), clientv3.WithRev(last+1))
	term := leaderTerm(c)
	// A leader change restarts the TTL (as in etcd): allow for some, and
	// check the upper bound only when there was none.
	_, gone := watchDeletes(t, wch, 3, 30*time.Second)
	if lived := gone.Sub(granted); lived < ttl*time.Second {
		t.Errorf("lease of TTL %ds expired after %s", ttl, lived)
	} else if lived > ttl*time.Second+2500*time.Millisecond {
		if now := leaderTerm(c); now != term {
			t.Logf("lease of TTL %ds expired after %s, across a leader change (term %d -> %d)", ttl, lived, term, now)
		} else {
			t.Errorf("lease of TTL %ds expired only after %s", ttl, lived)
		}
	}
	if g := mustGet(t, cli, "lease/expire/", clientv3.WithPrefix()); len(g.Kvs) != 0 {
		t.Errorf("keys left after expiry: %q", keysOf(g.Kvs))
	}
	r, err := cli.TimeToLive(ctx, lease.ID)
	if err != nil || r.TTL != -1 {
		t.Errorf("time to live of an expired lease: %v %+v", err, r)
	}
}

// TestLeaseLeaderCrash: a lease kept alive survives a leader crash in the
// middle of its life (the new leader restarts its TTL, as etcd's does), then
// expires within TTL plus a couple of seconds once its keep-alive stops.
func TestLeaseLeaderCrash(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	ctx := testCtx(t, 2*time.Minute)
	cli := c.Client()
	const ttl = 4
	lease, err := cli.Grant(ctx, ttl)
	if err != nil {
		t.Fatal(err)
	}
	granted := time.Now()
	mustPut(t, cli, "lc/k1", "v", clientv3.WithLease(lease.ID))
	mustPut(t, cli, "lc/k2", "v", clientv3.WithLease(lease.ID))
	kctx, stopKeepAlive := context.WithCancel(ctx)
	defer stopKeepAlive()
	kch, err := cli.KeepAlive(kctx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	kaDone := make(chan struct{})
	go func() {
		defer close(kaDone)
		for range kch {
		}
	}()

	// present reads the leased keys: false if they are gone. A read may fail
	// during the election, but one must succeed at least every 5s.
	lastRead := time.Now()
	present := func(cli *clientv3.Client) bool {
		t.Helper()
		g, err := cli.Get(testCtx(t, 5*time.Second), "lc/", clientv3.WithPrefix())
		if err != nil {
			if time.Since(lastRead) > 5*time.Second {
				t.Fatalf("no successful read for %s: %v", time.Since(lastRead), err)
			}
			return true
		}
		lastRead = time.Now()
		return len(g.Kvs) == 2
	}
	// Halfway through the lease's first life, crash the leader.
	for time.Since(granted) < ttl*time.Second/2 {
		if !present(cli) {
			t.Fatalf("leased keys gone %s after grant", time.Since(granted))
		}
		time.Sleep(50 * time.Millisecond)
	}
	l := c.Leader()
	c.Crash(l)
	crashed := time.Now()
	var others []int
	for i := range c.Size() {
		if i != l {
			others = append(others, i)
		}
	}
	ocli := c.Client(others...)
	c.Leader()
	// For longer than a whole TTL after the crash the keys stay.
	for time.Since(crashed) < ttl*time.Second+2*time.Second {
		if !present(ocli) {
			t.Fatalf("leased keys gone %s after the leader crash (%s after grant) while kept alive", time.Since(crashed), time.Since(granted))
		}
		time.Sleep(50 * time.Millisecond)
	}
	r, err := ocli.TimeToLive(testCtx(t, 10*time.Second), lease.ID)
	if err != nil || r.TTL <= 0 {
		t.Fatalf("time to live after the leader crash: %v %+v", err, r)
	}

	// Stop renewing: the lease expires within TTL (+ slack) of the last
	// renewal, and not before TTL of the last possible renewal minus the
	// keep-alive period (TTL/3).
	stopKeepAlive()
	<-kaDone
	stopped := time.Now()
	term := leaderTerm(c)
	// A leader change restarts the TTL (as in etcd): allow for some, and
	// check the upper bound only when there was none.
	waitUntil(t, 30*time.Second, "the unrenewed lease to expire", func() bool {
		g, err := ocli.Get(testCtx(t, 10*time.Second), "lc/", clientv3.WithPrefix())
		return err == nil && len(g.Kvs) == 0
	})
	lived := time.Since(stopped)
	if lived > ttl*time.Second+2500*time.Millisecond {
		if now := leaderTerm(c); now != term {
			t.Logf("lease expired %s after its last keep-alive, across a leader change (term %d -> %d)", lived, term, now)
		} else {
			t.Errorf("lease expired %s after its last keep-alive, TTL %ds", lived, ttl)
		}
	}
	if lived < ttl*time.Second*2/3-500*time.Millisecond {
		t.Errorf("lease expired %s after its keep-alive stopped, TTL %ds", lived, ttl)
	}
	r, err = ocli.TimeToLive(ctx, lease.ID)
	if err != nil || r.TTL != -1 {
		t.Errorf("time to live after expiry: %v %+v", err, r)
	}
}

// leaderTerm is the highest raft term among the running members.
func leaderTerm(c *agenttest.Cluster) uint64 {
	var term uint64
	for i := range c.Size() {
		if a := c.Agent(i); a != nil {
			term = max(term, a.Node.Term())
		}
	}
	return term
}
