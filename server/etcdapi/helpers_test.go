package etcdapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The suite talks to in-process three-member clusters only through
// go.etcd.io/etcd/client/v3 (and, where clientv3 hides a field, through the
// raw etcd gRPC clients over its connection). Expected behaviour is etcd's:
// see etcd-io/etcd server/etcdserver/txn, server/etcdserver/api/v3rpc and
// tests/integration.

// testCtx returns a context that ends with the test or after d.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond every 10ms until it holds, failing the test after d.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantErr fails unless err is want (nil meaning no error). clientv3 turns
// etcd's gRPC errors into the rpctypes.Err* values, so equality is exact.
func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v (%T), want %v", err, err, want)
	}
}

func mustPut(t testing.TB, cli *clientv3.Client, key, val string, opts ...clientv3.OpOption) *clientv3.PutResponse {
	t.Helper()
	resp, err := cli.Put(testCtx(t, 20*time.Second), key, val, opts...)
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return resp
}

func mustGet(t testing.TB, cli *clientv3.Client, key string, opts ...clientv3.OpOption) *clientv3.GetResponse {
	t.Helper()
	resp, err := cli.Get(testCtx(t, 20*time.Second), key, opts...)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return resp
}

func keysOf(kvs []*mvccpb.KeyValue) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

func valuesOf(kvs []*mvccpb.KeyValue) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, string(kv.Value))
	}
	return out
}

func eq(a, b []string) bool {
	return strings.Join(a, "\x01") == strings.Join(b, "\x01") && len(a) == len(b)
}

// memberIDs maps member names (m0, m1, ...) to etcd member ids.
func memberIDs(t testing.TB, cli *clientv3.Client) map[string]uint64 {
	t.Helper()
	ml, err := cli.MemberList(testCtx(t, 20*time.Second))
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	ids := map[string]uint64{}
	for _, m := range ml.Members {
		ids[m.Name] = m.ID
	}
	return ids
}

func memberName(i int) string { return fmt.Sprintf("m%d", i) }

// moveLeader makes member to the leader through Maintenance.MoveLeader sent
// to the current leader, and waits until it leads.
func moveLeader(t testing.TB, c *agenttest.Cluster, to int) {
	t.Helper()
	from := c.Leader()
	if from == to {
		return
	}
	lcli := c.Client(from)
	id := memberIDs(t, lcli)[memberName(to)]
	if _, err := lcli.MoveLeader(testCtx(t, 20*time.Second), id); err != nil {
		t.Fatalf("move leader %d -> %d: %v", from, to, err)
	}
	c.WaitFor(20*time.Second, fmt.Sprintf("member %d to lead", to), func() bool {
		a := c.Agent(to)
		return a != nil && a.Node.IsLeader()
	})
}
