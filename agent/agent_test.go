package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestClientV3Smoke(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	f := c.Follower()
	cli := c.Client(f)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	put, err := cli.Put(ctx, "a", "1")
	if err != nil {
		t.Fatal(err)
	}
	get, err := cli.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(get.Kvs) != 1 || string(get.Kvs[0].Value) != "1" || get.Kvs[0].ModRevision != put.Header.Revision {
		t.Fatalf("get after put: %+v (put rev %d)", get.Kvs, put.Header.Revision)
	}
	// Every member serves the write to a linearizable read.
	for i := range c.Size() {
		g, err := c.Client(i).Get(ctx, "a")
		if err != nil || len(g.Kvs) != 1 {
			t.Fatalf("member %d: %v %+v", i, err, g)
		}
	}
	txn, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision("a"), "=", put.Header.Revision)).
		Then(clientv3.OpPut("a", "2")).Else(clientv3.OpGet("a")).Commit()
	if err != nil || !txn.Succeeded {
		t.Fatalf("cas: %v %+v", err, txn)
	}
	lease, err := cli.Grant(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "leased", "x", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.KeepAliveOnce(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	ttl, err := cli.TimeToLive(ctx, lease.ID, clientv3.WithAttachedKeys())
	if err != nil || ttl.TTL <= 0 || len(ttl.Keys) != 1 {
		t.Fatalf("ttl: %v %+v", err, ttl)
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wch := cli.Watch(wctx, "a", clientv3.WithRev(put.Header.Revision))
	resp := <-wch
	if err := resp.Err(); err != nil || len(resp.Events) == 0 || string(resp.Events[0].Kv.Value) != "1" {
		t.Fatalf("watch: %v %+v", err, resp)
	}
	if _, err := cli.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	g, err := cli.Get(ctx, "leased")
	if err != nil || len(g.Kvs) != 0 {
		t.Fatalf("leased key after revoke: %v %+v", err, g)
	}
	ml, err := cli.MemberList(ctx)
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list: %v %+v", err, ml)
	}
	st, err := cli.Status(ctx, c.Agent(f).ClientAddr())
	if err != nil || st.Leader == 0 || st.Header.ClusterId == 0 {
		t.Fatalf("status: %v %+v", err, st)
	}
}

// TestLinearizableReadAfterLeaderChangeWithoutWrites: raft's own no-op
// and barrier entries never reach the state machines, so a new leader must
// not hand out a read index that only they reach: reads after a leader
// change, with no write since, must not wait for one.
func TestLinearizableReadAfterLeaderChangeWithoutWrites(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.Client().Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		old := c.Leader()
		if err := c.Agent(old).Node.TransferLeadership(ctx, ""); err != nil {
			t.Fatal(err)
		}
		c.WaitFor(10*time.Second, "a new leader", func() bool {
			for i := range c.Size() {
				if i != old && c.Agent(i).Node.IsLeader() {
					return true
				}
			}
			return false
		})
		for i := range c.Size() {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := c.Client(i).Get(rctx, "k")
			rcancel()
			if err != nil {
				t.Fatalf("round %d: linearizable read on member %d after a leader change: %v (%+v)", round, i, err, c.Agent(i).Node.Status())
			}
		}
	}
}
