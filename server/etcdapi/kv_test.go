package etcdapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// testRange checks Range as etcd's executeRange answers it: Count is the
// number of keys in the range at the read revision before limit and the
// min/max revision filters; More says limit cut the result; sorting or
// filtering fetch everything, then filter, sort and cut; a non-key sort
// target with order NONE sorts ascending.
func testRange(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	put := func(k, v string) int64 { return mustPut(t, cli, k, v).Header.Revision }
	revA := put("range/a", "a1")
	revB1 := put("range/b", "b1")
	revC := put("range/c", "c3")
	revD := put("range/d", "d0")
	revB2 := put("range/b", "b2")
	revE := put("range/e", "e9")
	revX := put("range/x", "gone")
	del, err := cli.Delete(testCtx(t, 20*time.Second), "range/x")
	if err != nil || del.Deleted != 1 {
		t.Fatalf("delete range/x: %v %+v", err, del)
	}
	put("range0", "z") // just past the "range/" prefix

	// The whole keyspace is this test's keys (Range runs first).
	all := []string{"range/a", "range/b", "range/c", "range/d", "range/e", "range0"}
	prefix := []string{"range/a", "range/b", "range/c", "range/d", "range/e"}
	pre := clientv3.WithPrefix()
	for _, tc := range []struct {
		name     string
		key      string
		opts     []clientv3.OpOption
		keys     []string
		values   []string // checked when set
		count    int64
		more     bool
		keysOnly bool
	}{
		{name: "single key", key: "range/b", keys: []string{"range/b"}, values: []string{"b2"}, count: 1},
		{name: "missing key", key: "range/zz", keys: []string{}, count: 0},
		{name: "deleted key", key: "range/x", keys: []string{}, count: 0},
		{name: "prefix", key: "range/", opts: []clientv3.OpOption{pre}, keys: prefix, count: 5},
		{name: "range end", key: "range/b", opts: []clientv3.OpOption{clientv3.WithRange("range/d")}, keys: []string{"range/b", "range/c"}, count: 2},
		{name: "range end before key", key: "range/d", opts: []clientv3.OpOption{clientv3.WithRange("range/b")}, keys: []string{}, count: 0},
		{name: "range end equal key", key: "range/b", opts: []clientv3.OpOption{clientv3.WithRange("range/b")}, keys: []string{}, count: 0},
		{name: "from key", key: "range/c", opts: []clientv3.OpOption{clientv3.WithFromKey()}, keys: []string{"range/c", "range/d", "range/e", "range0"}, count: 4},
		{name: "from key \\x00 is everything", key: "\x00", opts: []clientv3.OpOption{clientv3.WithFromKey()}, keys: all, count: 6},
		{name: "empty prefix is everything", key: "", opts: []clientv3.OpOption{clientv3.WithPrefix()}, keys: all, count: 6},
		{name: "limit", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithLimit(2)}, keys: []string{"range/a", "range/b"}, count: 5, more: true},
		{name: "limit equal to count", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithLimit(5)}, keys: prefix, count: 5},
		{name: "limit above count", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithLimit(50)}, keys: prefix, count: 5},
		{name: "revision", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithRev(revC)}, keys: []string{"range/a", "range/b", "range/c"}, values: []string{"a1", "b1", "c3"}, count: 3},
		{name: "revision before first write", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithRev(revA - 1)}, keys: []string{}, count: 0},
		{name: "revision of a deleted key", key: "range/x", opts: []clientv3.OpOption{clientv3.WithRev(revX)}, keys: []string{"range/x"}, values: []string{"gone"}, count: 1},
		{name: "revision with limit", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithRev(revD), clientv3.WithLimit(3)}, keys: []string{"range/a", "range/b", "range/c"}, count: 4, more: true},
		{name: "sort key descend", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}, keys: []string{"range/e", "range/d", "range/c", "range/b", "range/a"}, count: 5},
		{name: "sort key descend limit", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(2)}, keys: []string{"range/e", "range/d"}, count: 5, more: true},
		{name: "sort value descend", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByValue, clientv3.SortDescend)}, keys: []string{"range/e", "range/d", "range/c", "range/b", "range/a"}, values: []string{"e9", "d0", "c3", "b2", "a1"}, count: 5},
		{name: "sort value ascend", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend)}, keys: []string{"range/a", "range/b", "range/c", "range/d", "range/e"}, count: 5},
		{name: "sort mod ascend", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend)}, keys: []string{"range/a", "range/c", "range/d", "range/b", "range/e"}, count: 5},
		{name: "sort mod descend", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend)}, keys: []string{"range/e", "range/b", "range/d", "range/c", "range/a"}, count: 5},
		{name: "sort mod order none means ascend", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortNone)}, keys: []string{"range/a", "range/c", "range/d", "range/b", "range/e"}, count: 5},
		{name: "sort create descend", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend)}, keys: []string{"range/e", "range/d", "range/c", "range/b", "range/a"}, count: 5},
		{name: "sort version descend limit 1", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByVersion, clientv3.SortDescend), clientv3.WithLimit(1)}, keys: []string{"range/b"}, count: 5, more: true},
		{name: "sort mod descend limit", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend), clientv3.WithLimit(2)}, keys: []string{"range/e", "range/b"}, count: 5, more: true},
		{name: "keys only", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithKeysOnly()}, keys: prefix, values: []string{"", "", "", "", ""}, count: 5, keysOnly: true},
		{name: "count only", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithCountOnly()}, keys: []string{}, count: 5},
		{name: "count only with limit", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithCountOnly(), clientv3.WithLimit(1)}, keys: []string{}, count: 5},
		{name: "min mod revision", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithMinModRev(revD)}, keys: []string{"range/b", "range/d", "range/e"}, count: 5},
		{name: "max mod revision", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithMaxModRev(revC)}, keys: []string{"range/a", "range/c"}, count: 5},
		{name: "min create revision", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithMinCreateRev(revC)}, keys: []string{"range/c", "range/d", "range/e"}, count: 5},
		{name: "max create revision", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithMaxCreateRev(revB1)}, keys: []string{"range/a", "range/b"}, count: 5},
		{name: "min and max mod revision", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithMinModRev(revC), clientv3.WithMaxModRev(revB2)}, keys: []string{"range/b", "range/c", "range/d"}, count: 5},
		{name: "filter then limit", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithMinModRev(revD), clientv3.WithLimit(1)}, keys: []string{"range/b"}, count: 5, more: true},
		{name: "filter at revision", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithRev(revD), clientv3.WithMinCreateRev(revB1)}, keys: []string{"range/b", "range/c", "range/d"}, values: []string{"b1", "c3", "d0"}, count: 4},
		{name: "serializable", key: "range/", opts: []clientv3.OpOption{pre, clientv3.WithSerializable()}, keys: prefix, count: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := mustGet(t, cli, tc.key, tc.opts...)
			if got := keysOf(resp.Kvs); !eq(got, tc.keys) {
				t.Errorf("keys = %q, want %q", got, tc.keys)
			}
			if tc.values != nil {
				if got := valuesOf(resp.Kvs); !eq(got, tc.values) {
					t.Errorf("values = %q, want %q", got, tc.values)
				}
			}
			if resp.Count != tc.count {
				t.Errorf("count = %d, want %d", resp.Count, tc.count)
			}
			if resp.More != tc.more {
				t.Errorf("more = %v, want %v", resp.More, tc.more)
			}
			if resp.Header.Revision < revE {
				t.Errorf("header revision %d below the last write %d", resp.Header.Revision, revE)
			}
		})
	}

	// Per-key metadata, at the current and at a past revision.
	b := mustGet(t, cli, "range/b").Kvs[0]
	if b.CreateRevision != revB1 || b.ModRevision != revB2 || b.Version != 2 || b.Lease != 0 {
		t.Errorf("range/b = create %d mod %d version %d lease %d, want %d %d 2 0", b.CreateRevision, b.ModRevision, b.Version, b.Lease, revB1, revB2)
	}
	b1 := mustGet(t, cli, "range/b", clientv3.WithRev(revD)).Kvs[0]
	if b1.CreateRevision != revB1 || b1.ModRevision != revB1 || b1.Version != 1 || string(b1.Value) != "b1" {
		t.Errorf("range/b at %d = %+v", revD, b1)
	}
	// keys_only keeps the metadata.
	ko := mustGet(t, cli, "range/b", clientv3.WithKeysOnly()).Kvs[0]
	if ko.ModRevision != revB2 || ko.Version != 2 || len(ko.Value) != 0 {
		t.Errorf("keys only range/b = %+v", ko)
	}
	// The header carries the current revision, whatever revision was read.
	old := mustGet(t, cli, "range/a", clientv3.WithRev(revA))
	cur := mustGet(t, cli, "range/a")
	if old.Header.Revision != cur.Header.Revision {
		t.Errorf("header revision of a past read %d, of a current read %d", old.Header.Revision, cur.Header.Revision)
	}
}

func testRangeErrors(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	rev := mustPut(t, cli, "rangeerr/k", "v").Header.Revision
	for _, tc := range []struct {
		name string
		key  string
		opts []clientv3.OpOption
		want error
	}{
		{"future revision", "rangeerr/k", []clientv3.OpOption{clientv3.WithRev(rev + 1000)}, rpctypes.ErrFutureRev},
		{"future revision serializable", "rangeerr/k", []clientv3.OpOption{clientv3.WithRev(rev + 1000), clientv3.WithSerializable()}, rpctypes.ErrFutureRev},
		{"current revision", "rangeerr/k", []clientv3.OpOption{clientv3.WithRev(rev)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli.Get(testCtx(t, 20*time.Second), tc.key, tc.opts...)
			wantErr(t, err, tc.want)
		})
	}
	// An empty key is refused (clientv3's Get cannot send one: use the raw
	// KV client, as etcdctl-like tools in other languages would).
	_, err := pb.NewKVClient(cli.ActiveConnection()).Range(testCtx(t, 20*time.Second), &pb.RangeRequest{})
	wantErr(t, rpctypes.Error(err), rpctypes.ErrEmptyKey)
}

func testPut(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	ctx := testCtx(t, time.Minute)
	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	lease2, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, key string) // optional
		val   string
		opts  []clientv3.OpOption
		err   error
		check func(t *testing.T, key string, resp *clientv3.PutResponse)
	}{
		{name: "create", val: "v1", check: func(t *testing.T, key string, resp *clientv3.PutResponse) {
			kv := mustGet(t, cli, key).Kvs[0]
			if kv.CreateRevision != resp.Header.Revision || kv.ModRevision != resp.Header.Revision || kv.Version != 1 || string(kv.Value) != "v1" {
				t.Errorf("after create: %+v (put rev %d)", kv, resp.Header.Revision)
			}
			if resp.PrevKv != nil {
				t.Errorf("prev kv without prev_kv: %+v", resp.PrevKv)
			}
		}},
		{name: "overwrite", setup: func(t *testing.T, key string) { mustPut(t, cli, key, "old") }, val: "new", check: func(t *testing.T, key string, resp *clientv3.PutResponse) {
			kv := mustGet(t, cli, key).Kvs[0]
			if kv.CreateRevision >= resp.Header.Revision || kv.ModRevision != resp.Header.Revision || kv.Version != 2 || string(kv.Value) != "new" {
				t.Errorf("after overwrite: %+v (put rev %d)", kv, resp.Header.Revision)
			}
		}},
		{name: "prev kv", setup: func(t *testing.T, key string) { mustPut(t, cli, key, "old") }, val: "new", opts: []clientv3.OpOption{clientv3.WithPrevKV()}, check: func(t *testing.T, key string, resp *clientv3.PutResponse) {
			if resp.PrevKv == nil || string(resp.PrevKv.Value) != "old" || resp.PrevKv.Version != 1 || string(resp.PrevKv.Key) != key {
				t.Errorf("prev kv = %+v", resp.PrevKv)
			}
		}},
		{name: "prev kv of a new key", val: "new", opts: []clientv3.OpOption{clientv3.WithPrevKV()}, check: func(t *testing.T, key string, resp *clientv3.PutResponse) {
			if resp.PrevKv != nil {
				t.Errorf("prev kv of a new key = %+v", resp.PrevKv)
			}
		}},
		{name: "same value still bumps", setup: func(t *testing.T, key string) { mustPut(t, cli, key, "same") }, val: "same", check: func(t *testing.T, key string, resp *clientv3.PutResponse) {
			if kv := mustGet(t, cli, key).Kvs[0]; kv.Version != 2 || kv.ModRevision != resp.Header.Revision {
				t.Errorf("after same-value put: %+v", kv)
			}
		}},
		{name: "ignore value", setup: func(t *testing.T, key string) { mustPut(t, cli, key, "kept") }, opts: []clientv3.OpOption{clientv3.WithIgnoreValue(), clientv3.WithLease(lease.ID)}, check: func(t *testing.T, key string, resp *clientv3.PutResponse) {
			kv := mustGet(t, cli, key).Kvs[0]
			if string(kv.Value) != "kept" || kv.Version != 2 || kv.ModRevision != resp.Header.Revision || kv.Lease != int64(lease.ID) {
				t.Errorf("after ignore_value: %+v", kv)
			}
		}},
		{name: "ignore value of a missing key", opts: []clientv3.OpOption{clientv3.WithIgnoreValue()}, err: rpctypes.ErrKeyNotFound},
		{name: "ignore value with a value", val: "x", opts: []clientv3.OpOption{clientv3.WithIgnoreValue()}, err: rpctypes.ErrValueProvided},
		{name: "ignore lease", setup: func(t *testing.T, key string) { mustPut(t, cli, key, "v", clientv3.WithLease(lease.ID)) }, val: "v2", opts: []clientv3.OpOption{clientv3.WithIgnoreLease()}, check: func(t *testing.T, key string, resp *clientv3.PutResponse) {
			kv := mustGet(t, cli, key).Kvs[0]
			if string(kv.Value) != "v2" || kv.Lease != int64(lease.ID) {
				t.Errorf("after ignore_lease: %+v", kv)
			}
		}},
		{name: "ignore lease of a missing key", val: "v", opts: []clientv3.OpOption{clientv3.WithIgnoreLease()}, err: rpctypes.ErrKeyNotFound},
		{name: "ignore lease with a lease", val: "v", opts: []clientv3.OpOption{clientv3.WithIgnoreLease(), clientv3.WithLease(lease.ID)}, err: rpctypes.ErrLeaseProvided},
		{name: "plain put detaches the lease", setup: func(t *testing.T, key string) { mustPut(t, cli, key, "v", clientv3.WithLease(lease.ID)) }, val: "v2", check: func(t *testing.T, key string, resp *clientv3.PutResponse) {
			if kv := mustGet(t, cli, key).Kvs[0]; kv.Lease != 0 {
				t.Errorf("lease after a put without lease: %d", kv.Lease)
			}
			ttl, err := cli.TimeToLive(testCtx(t, 20*time.Second), lease.ID, clientv3.WithAttachedKeys())
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range ttl.Keys {
				if string(k) == key {
					t.Errorf("key still attached to the lease: %q", ttl.Keys)
				}
			}
		}},
		{name: "move to another lease", setup: func(t *testing.T, key string) { mustPut(t, cli, key, "v", clientv3.WithLease(lease.ID)) }, val: "v", opts: []clientv3.OpOption{clientv3.WithLease(lease2.ID)}, check: func(t *testing.T, key string, resp *clientv3.PutResponse) {
			if kv := mustGet(t, cli, key).Kvs[0]; kv.Lease != int64(lease2.ID) {
				t.Errorf("lease = %x, want %x", kv.Lease, lease2.ID)
			}
		}},
		{name: "missing lease", val: "v", opts: []clientv3.OpOption{clientv3.WithLease(clientv3.LeaseID(0x7eadbeef))}, err: rpctypes.ErrLeaseNotFound},
		{name: "value of 1 MiB", val: strings.Repeat("x", 1<<20)},
		{name: "request over 1.5 MiB", val: strings.Repeat("x", 1536*1024+1), err: rpctypes.ErrRequestTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "put/" + strings.ReplaceAll(tc.name, " ", "-")
			if tc.setup != nil {
				tc.setup(t, key)
			}
			before := mustGet(t, cli, "put/").Header.Revision
			resp, err := cli.Put(testCtx(t, 20*time.Second), key, tc.val, tc.opts...)
			wantErr(t, err, tc.err)
			if err != nil {
				// A refused put changes nothing.
				if after := mustGet(t, cli, "put/").Header.Revision; after != before {
					t.Errorf("revision moved from %d to %d on a refused put", before, after)
				}
				return
			}
			if resp.Header.Revision != before+1 {
				t.Errorf("put revision %d, want %d", resp.Header.Revision, before+1)
			}
			if tc.check != nil {
				tc.check(t, key, resp)
			}
		})
	}
	// An empty key is refused.
	_, err = cli.Put(ctx, "", "v")
	wantErr(t, err, rpctypes.ErrEmptyKey)
}

func testDeleteRange(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	for _, tc := range []struct {
		name    string
		keys    []string // written first, under the case's prefix
		key     string   // relative to the case's prefix
		opts    []clientv3.OpOption
		deleted int64
		prev    []string // prev kv keys, when prev_kv
		left    []string
	}{
		{name: "single", keys: []string{"a", "b"}, key: "a", deleted: 1, left: []string{"b"}},
		{name: "single prev kv", keys: []string{"a", "b"}, key: "a", opts: []clientv3.OpOption{clientv3.WithPrevKV()}, deleted: 1, prev: []string{"a"}, left: []string{"b"}},
		{name: "missing", keys: []string{"a"}, key: "zz", deleted: 0, left: []string{"a"}},
		{name: "missing prev kv", keys: []string{"a"}, key: "zz", opts: []clientv3.OpOption{clientv3.WithPrevKV()}, deleted: 0, prev: []string{}, left: []string{"a"}},
		{name: "prefix", keys: []string{"p/1", "p/2", "p/3", "q"}, key: "p/", opts: []clientv3.OpOption{clientv3.WithPrefix()}, deleted: 3, left: []string{"q"}},
		{name: "prefix prev kv", keys: []string{"p/1", "p/2", "p/3", "q"}, key: "p/", opts: []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV()}, deleted: 3, prev: []string{"p/1", "p/2", "p/3"}, left: []string{"q"}},
		{name: "range end", keys: []string{"a", "b", "c", "d"}, key: "b", opts: []clientv3.OpOption{clientv3.WithRange("")}, deleted: 2, left: []string{"a", "d"}},
		{name: "from key", keys: []string{"a", "b", "c"}, key: "b", opts: []clientv3.OpOption{clientv3.WithFromKey()}, deleted: 2, left: []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "del/" + strings.ReplaceAll(tc.name, " ", "-") + "/"
			if tc.name == "from key" {
				// From-key deletes to the end of the keyspace: keep it to
				// keys after every other test's.
				p = "\xffdel/"
			}
			for _, k := range tc.keys {
				mustPut(t, cli, p+k, "v-"+k)
			}
			opts := tc.opts
			if tc.name == "range end" {
				opts = []clientv3.OpOption{clientv3.WithRange(p + "d")}
			}
			before := mustGet(t, cli, p).Header.Revision
			resp, err := cli.Delete(testCtx(t, 20*time.Second), p+tc.key, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Deleted != tc.deleted {
				t.Errorf("deleted = %d, want %d", resp.Deleted, tc.deleted)
			}
			wantRev := before
			if tc.deleted > 0 {
				wantRev++ // every key deleted in one revision
			}
			if resp.Header.Revision != wantRev {
				t.Errorf("header revision %d, want %d", resp.Header.Revision, wantRev)
			}
			if tc.prev != nil {
				var want []string
				for _, k := range tc.prev {
					want = append(want, p+k)
				}
				if got := keysOf(resp.PrevKvs); !eq(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Errorf("prev kvs = %q, want %q", got, want)
				}
				for _, kv := range resp.PrevKvs {
					if string(kv.Value) != "v-"+strings.TrimPrefix(string(kv.Key), p) {
						t.Errorf("prev kv %q value %q", kv.Key, kv.Value)
					}
				}
			} else if len(resp.PrevKvs) != 0 {
				t.Errorf("prev kvs without prev_kv: %v", keysOf(resp.PrevKvs))
			}
			var want []string
			for _, k := range tc.left {
				want = append(want, p+k)
			}
			if got := keysOf(mustGet(t, cli, p, clientv3.WithPrefix()).Kvs); !eq(got, want) {
				t.Errorf("left = %q, want %q", got, want)
			}
		})
	}

	t.Run("recreate starts a new generation", func(t *testing.T) {
		mustPut(t, cli, "del/gen", "1")
		mustPut(t, cli, "del/gen", "2")
		if _, err := cli.Delete(testCtx(t, 20*time.Second), "del/gen"); err != nil {
			t.Fatal(err)
		}
		resp := mustPut(t, cli, "del/gen", "3")
		kv := mustGet(t, cli, "del/gen").Kvs[0]
		if kv.Version != 1 || kv.CreateRevision != resp.Header.Revision {
			t.Errorf("recreated key: %+v", kv)
		}
	})
	t.Run("empty key", func(t *testing.T) {
		_, err := cli.Delete(testCtx(t, 20*time.Second), "")
		wantErr(t, err, rpctypes.ErrEmptyKey)
	})
}

func testTxn(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	ctx := testCtx(t, time.Minute)
	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	create := mustPut(t, cli, "txn/k", "v1").Header.Revision
	mod := mustPut(t, cli, "txn/k", "v2").Header.Revision
	mustPut(t, cli, "txn/l", "x", clientv3.WithLease(lease.ID))
	mustPut(t, cli, "txn/r/1", "x")
	mustPut(t, cli, "txn/r/2", "x")
	mustPut(t, cli, "txn/r/3", "y")
	L := int64(lease.ID)
	cmp := clientv3.Compare
	V, Ver, C, M, Le := clientv3.Value, clientv3.Version, clientv3.CreateRevision, clientv3.ModRevision, clientv3.LeaseValue
	for _, tc := range []struct {
		name string
		cmps []clientv3.Cmp
		want bool
	}{
		{"no compare", nil, true},
		{"value =", []clientv3.Cmp{cmp(V("txn/k"), "=", "v2")}, true},
		{"value = old", []clientv3.Cmp{cmp(V("txn/k"), "=", "v1")}, false},
		{"value !=", []clientv3.Cmp{cmp(V("txn/k"), "!=", "v1")}, true},
		{"value != same", []clientv3.Cmp{cmp(V("txn/k"), "!=", "v2")}, false},
		{"value <", []clientv3.Cmp{cmp(V("txn/k"), "<", "v3")}, true},
		{"value < smaller", []clientv3.Cmp{cmp(V("txn/k"), "<", "v1")}, false},
		{"value >", []clientv3.Cmp{cmp(V("txn/k"), ">", "v1")}, true},
		{"value > larger", []clientv3.Cmp{cmp(V("txn/k"), ">", "v3")}, false},
		{"version =", []clientv3.Cmp{cmp(Ver("txn/k"), "=", 2)}, true},
		{"version !=", []clientv3.Cmp{cmp(Ver("txn/k"), "!=", 2)}, false},
		{"version <", []clientv3.Cmp{cmp(Ver("txn/k"), "<", 3)}, true},
		{"version < equal", []clientv3.Cmp{cmp(Ver("txn/k"), "<", 2)}, false},
		{"version >", []clientv3.Cmp{cmp(Ver("txn/k"), ">", 1)}, true},
		{"version > equal", []clientv3.Cmp{cmp(Ver("txn/k"), ">", 2)}, false},
		{"create =", []clientv3.Cmp{cmp(C("txn/k"), "=", create)}, true},
		{"create = mod", []clientv3.Cmp{cmp(C("txn/k"), "=", mod)}, false},
		{"create <", []clientv3.Cmp{cmp(C("txn/k"), "<", mod)}, true},
		{"create >", []clientv3.Cmp{cmp(C("txn/k"), ">", create)}, false},
		{"create !=", []clientv3.Cmp{cmp(C("txn/k"), "!=", 0)}, true},
		{"mod =", []clientv3.Cmp{cmp(M("txn/k"), "=", mod)}, true},
		{"mod = create", []clientv3.Cmp{cmp(M("txn/k"), "=", create)}, false},
		{"mod >", []clientv3.Cmp{cmp(M("txn/k"), ">", create)}, true},
		{"mod <", []clientv3.Cmp{cmp(M("txn/k"), "<", mod)}, false},
		{"mod !=", []clientv3.Cmp{cmp(M("txn/k"), "!=", mod)}, false},
		{"lease =", []clientv3.Cmp{cmp(Le("txn/l"), "=", L)}, true},
		{"lease = none", []clientv3.Cmp{cmp(Le("txn/k"), "=", 0)}, true},
		{"lease !=", []clientv3.Cmp{cmp(Le("txn/l"), "!=", L)}, false},
		{"lease >", []clientv3.Cmp{cmp(Le("txn/l"), ">", 0)}, true},
		{"lease <", []clientv3.Cmp{cmp(Le("txn/l"), "<", L)}, false},
		{"missing key version = 0", []clientv3.Cmp{cmp(Ver("txn/missing"), "=", 0)}, true},
		{"missing key create = 0", []clientv3.Cmp{cmp(C("txn/missing"), "=", 0)}, true},
		{"missing key mod > 0", []clientv3.Cmp{cmp(M("txn/missing"), ">", 0)}, false},
		{"missing key lease = 0", []clientv3.Cmp{cmp(Le("txn/missing"), "=", 0)}, true},
		// A value compare on a missing key always fails (etcd's applyCompare).
		{"missing key value = empty", []clientv3.Cmp{cmp(V("txn/missing"), "=", "")}, false},
		{"missing key value != x", []clientv3.Cmp{cmp(V("txn/missing"), "!=", "x")}, false},
		{"all compares hold", []clientv3.Cmp{cmp(V("txn/k"), "=", "v2"), cmp(Ver("txn/k"), "=", 2), cmp(Le("txn/l"), "=", L)}, true},
		{"one compare fails", []clientv3.Cmp{cmp(V("txn/k"), "=", "v2"), cmp(Ver("txn/k"), "=", 3)}, false},
		{"prefix value, not all equal", []clientv3.Cmp{cmp(V("txn/r/"), "=", "x").WithPrefix()}, false},
		{"range value, all equal", []clientv3.Cmp{cmp(V("txn/r/1"), "=", "x").WithRange("txn/r/3")}, true},
		{"prefix version", []clientv3.Cmp{cmp(Ver("txn/r/"), "=", 1).WithPrefix()}, true},
		{"prefix mod <", []clientv3.Cmp{cmp(M("txn/r/"), "<", mod+100).WithPrefix()}, true},
		{"prefix mod > all but the first", []clientv3.Cmp{cmp(M("txn/r/"), ">", mod+2).WithPrefix()}, false},
		{"prefix mod > all", []clientv3.Cmp{cmp(M("txn/r/"), ">", mod+1).WithPrefix()}, true},
		{"empty range version = 0", []clientv3.Cmp{cmp(Ver("txn/none/"), "=", 0).WithPrefix()}, true},
		{"empty range value", []clientv3.Cmp{cmp(V("txn/none/"), "=", "").WithPrefix()}, false},
	} {
		t.Run("compare "+tc.name, func(t *testing.T) {
			resp, err := cli.Txn(testCtx(t, 20*time.Second)).If(tc.cmps...).
				Then(clientv3.OpGet("txn/k")).Else(clientv3.OpGet("txn/l")).Commit()
			if err != nil {
				t.Fatal(err)
			}
			if resp.Succeeded != tc.want {
				t.Fatalf("succeeded = %v, want %v", resp.Succeeded, tc.want)
			}
			want := "txn/l"
			if tc.want {
				want = "txn/k"
			}
			if len(resp.Responses) != 1 || !eq(keysOf(resp.Responses[0].GetResponseRange().Kvs), []string{want}) {
				t.Errorf("responses = %v, want a range of %s", resp.Responses, want)
			}
		})
	}

	t.Run("then branch writes in one revision and reads its own writes", func(t *testing.T) {
		before := mustGet(t, cli, "txn/").Header.Revision
		resp, err := cli.Txn(testCtx(t, 20*time.Second)).If(cmp(V("txn/k"), "=", "v2")).
			Then(clientv3.OpPut("txn/a", "1"), clientv3.OpPut("txn/b", "2", clientv3.WithPrevKV()), clientv3.OpGet("txn/a"),
				clientv3.OpDelete("txn/r/3", clientv3.WithPrevKV()), clientv3.OpGet("txn/r/", clientv3.WithPrefix(), clientv3.WithCountOnly())).
			Else(clientv3.OpPut("txn/else", "x")).Commit()
		if err != nil || !resp.Succeeded {
			t.Fatalf("txn: %v %+v", err, resp)
		}
		rev := resp.Header.Revision
		if rev != before+1 {
			t.Errorf("txn revision %d, want %d", rev, before+1)
		}
		if len(resp.Responses) != 5 {
			t.Fatalf("responses: %v", resp.Responses)
		}
		if r := resp.Responses[0].GetResponsePut(); r == nil || r.Header.Revision != rev {
			t.Errorf("op 0: %v", resp.Responses[0])
		}
		if r := resp.Responses[1].GetResponsePut(); r == nil || r.PrevKv != nil {
			t.Errorf("op 1: %v", resp.Responses[1])
		}
		if r := resp.Responses[2].GetResponseRange(); r == nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "1" || r.Kvs[0].ModRevision != rev {
			t.Errorf("op 2 (read of the txn's own put): %v", resp.Responses[2])
		}
		if r := resp.Responses[3].GetResponseDeleteRange(); r == nil || r.Deleted != 1 || len(r.PrevKvs) != 1 || string(r.PrevKvs[0].Value) != "y" {
			t.Errorf("op 3: %v", resp.Responses[3])
		}
		if r := resp.Responses[4].GetResponseRange(); r == nil || r.Count != 2 {
			t.Errorf("op 4 (count after the txn's own delete): %v", resp.Responses[4])
		}
		for _, k := range []string{"txn/a", "txn/b"} {
			if kv := mustGet(t, cli, k).Kvs[0]; kv.ModRevision != rev {
				t.Errorf("%s mod revision %d, want %d", k, kv.ModRevision, rev)
			}
		}
		if g := mustGet(t, cli, "txn/else"); len(g.Kvs) != 0 {
			t.Errorf("else branch ran too")
		}
	})

	t.Run("else branch", func(t *testing.T) {
		resp, err := cli.Txn(testCtx(t, 20*time.Second)).If(cmp(V("txn/k"), "=", "nope")).
			Then(clientv3.OpPut("txn/then", "x")).Else(clientv3.OpPut("txn/else", "y"), clientv3.OpGet("txn/else")).Commit()
		if err != nil || resp.Succeeded {
			t.Fatalf("txn: %v %+v", err, resp)
		}
		if len(resp.Responses) != 2 || resp.Responses[0].GetResponsePut() == nil || string(resp.Responses[1].GetResponseRange().Kvs[0].Value) != "y" {
			t.Errorf("responses: %v", resp.Responses)
		}
		if g := mustGet(t, cli, "txn/then"); len(g.Kvs) != 0 {
			t.Errorf("then branch ran too")
		}
	})

	t.Run("nested txn", func(t *testing.T) {
		resp, err := cli.Txn(testCtx(t, 20*time.Second)).If(cmp(Ver("txn/k"), "=", 2)).Then(
			clientv3.OpPut("txn/n/outer", "o"),
			clientv3.OpTxn([]clientv3.Cmp{cmp(V("txn/k"), "=", "other")},
				[]clientv3.Op{clientv3.OpPut("txn/n/inner-then", "t")},
				[]clientv3.Op{clientv3.OpPut("txn/n/inner-else", "e"), clientv3.OpGet("txn/n/outer")}),
			clientv3.OpTxn([]clientv3.Cmp{cmp(V("txn/k"), "=", "v2")},
				[]clientv3.Op{clientv3.OpPut("txn/n/inner2", "t")}, nil),
		).Commit()
		if err != nil || !resp.Succeeded || len(resp.Responses) != 3 {
			t.Fatalf("txn: %v %+v", err, resp)
		}
		n1 := resp.Responses[1].GetResponseTxn()
		if n1 == nil || n1.Succeeded || len(n1.Responses) != 2 {
			t.Fatalf("first nested txn: %+v", n1)
		}
		if r := n1.Responses[1].GetResponseRange(); len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "o" {
			t.Errorf("nested read of the outer put: %+v", r)
		}
		if n2 := resp.Responses[2].GetResponseTxn(); n2 == nil || !n2.Succeeded {
			t.Errorf("second nested txn: %+v", n2)
		}
		got := keysOf(mustGet(t, cli, "txn/n/", clientv3.WithPrefix()).Kvs)
		if want := []string{"txn/n/inner-else", "txn/n/inner2", "txn/n/outer"}; !eq(got, want) {
			t.Errorf("keys = %q, want %q", got, want)
		}
		for _, kv := range mustGet(t, cli, "txn/n/", clientv3.WithPrefix()).Kvs {
			if kv.ModRevision != resp.Header.Revision {
				t.Errorf("%s at %d, want the txn's revision %d", kv.Key, kv.ModRevision, resp.Header.Revision)
			}
		}
	})

	t.Run("txn changing nothing keeps the revision", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			txn  func(clientv3.Txn) clientv3.Txn
		}{
			{"failed compare, empty else", func(x clientv3.Txn) clientv3.Txn {
				return x.If(cmp(V("txn/k"), "=", "nope")).Then(clientv3.OpPut("txn/nothing", "x"))
			}},
			{"delete of a missing key", func(x clientv3.Txn) clientv3.Txn {
				return x.Then(clientv3.OpDelete("txn/missing"), clientv3.OpDelete("txn/none/", clientv3.WithPrefix()))
			}},
			{"reads only", func(x clientv3.Txn) clientv3.Txn {
				return x.Then(clientv3.OpGet("txn/k"), clientv3.OpGet("txn/r/", clientv3.WithPrefix()))
			}},
			{"empty", func(x clientv3.Txn) clientv3.Txn { return x }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := mustGet(t, cli, "txn/k").Header.Revision
				resp, err := tc.txn(cli.Txn(testCtx(t, 20*time.Second))).Commit()
				if err != nil {
					t.Fatal(err)
				}
				if resp.Header.Revision != before {
					t.Errorf("txn header revision %d, want %d", resp.Header.Revision, before)
				}
				if after := mustGet(t, cli, "txn/k").Header.Revision; after != before {
					t.Errorf("revision moved from %d to %d", before, after)
				}
			})
		}
	})
}

func testTxnErrors(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	mustPut(t, cli, "txnerr/k", "v")
	put := func(k string) clientv3.Op { return clientv3.OpPut(k, "x") }
	nested := func(then, els []clientv3.Op) clientv3.Op { return clientv3.OpTxn(nil, then, els) }
	many := func(n int) []clientv3.Op {
		ops := make([]clientv3.Op, n)
		for i := range ops {
			ops[i] = put(fmt.Sprintf("txnerr/many/%03d", i))
		}
		return ops
	}
	for _, tc := range []struct {
		name string
		then []clientv3.Op
		els  []clientv3.Op
		cmps []clientv3.Cmp
		want error
	}{
		{name: "duplicate put", then: []clientv3.Op{put("txnerr/a"), put("txnerr/a")}, want: rpctypes.ErrDuplicateKey},
		{name: "duplicate put in else", els: []clientv3.Op{put("txnerr/a"), put("txnerr/a")}, cmps: []clientv3.Cmp{clientv3.Compare(clientv3.Value("txnerr/k"), "=", "v")}, want: rpctypes.ErrDuplicateKey},
		{name: "put inside a delete range", then: []clientv3.Op{put("txnerr/d/x"), clientv3.OpDelete("txnerr/d/", clientv3.WithPrefix())}, want: rpctypes.ErrDuplicateKey},
		{name: "delete then put same key", then: []clientv3.Op{clientv3.OpDelete("txnerr/a"), put("txnerr/a")}, want: rpctypes.ErrDuplicateKey},
		{name: "put and nested put", then: []clientv3.Op{put("txnerr/a"), nested([]clientv3.Op{put("txnerr/a")}, nil)}, want: rpctypes.ErrDuplicateKey},
		{name: "put and nested else put", then: []clientv3.Op{put("txnerr/a"), nested(nil, []clientv3.Op{put("txnerr/a")})}, want: rpctypes.ErrDuplicateKey},
		{name: "nested delete and outer put", then: []clientv3.Op{nested([]clientv3.Op{clientv3.OpDelete("txnerr/a")}, nil), put("txnerr/a")}, want: rpctypes.ErrDuplicateKey},
		{name: "two nested txns put the same key", then: []clientv3.Op{nested([]clientv3.Op{put("txnerr/a")}, nil), nested([]clientv3.Op{put("txnerr/a")}, nil)}, want: rpctypes.ErrDuplicateKey},
		{name: "same key in then and else", then: []clientv3.Op{put("txnerr/a")}, els: []clientv3.Op{put("txnerr/a")}},
		{name: "same key in nested then and else", then: []clientv3.Op{nested([]clientv3.Op{put("txnerr/a")}, []clientv3.Op{put("txnerr/a")})}},
		{name: "overlapping deletes", then: []clientv3.Op{clientv3.OpDelete("txnerr/a"), clientv3.OpDelete("txnerr/", clientv3.WithPrefix()), clientv3.OpDelete("txnerr/a")}},
		{name: "read and put same key", then: []clientv3.Op{clientv3.OpGet("txnerr/a"), put("txnerr/a"), clientv3.OpGet("txnerr/a")}},
		{name: "128 ops", then: many(128)},
		{name: "129 ops", then: many(129), want: rpctypes.ErrTooManyOps},
		{name: "129 ops in else", els: many(129), want: rpctypes.ErrTooManyOps},
		{name: "129 compares", cmps: func() []clientv3.Cmp {
			cs := make([]clientv3.Cmp, 129)
			for i := range cs {
				cs[i] = clientv3.Compare(clientv3.Version(fmt.Sprintf("txnerr/c/%d", i)), "=", 0)
			}
			return cs
		}(), want: rpctypes.ErrTooManyOps},
		// etcd gives a nested txn what its parent left of the op budget.
		{name: "nested ops over the budget", then: append(many(100), nested(many(29), nil)), want: rpctypes.ErrTooManyOps},
		{name: "put with an empty key", then: []clientv3.Op{put("")}, want: rpctypes.ErrEmptyKey},
		{name: "compare with an empty key", cmps: []clientv3.Cmp{clientv3.Compare(clientv3.Version(""), "=", 0)}, want: rpctypes.ErrEmptyKey},
		{name: "put with a missing lease", then: []clientv3.Op{clientv3.OpPut("txnerr/a", "x", clientv3.WithLease(0x7eadbeef))}, want: rpctypes.ErrLeaseNotFound},
		{name: "range at a future revision", then: []clientv3.Op{clientv3.OpGet("txnerr/k", clientv3.WithRev(1<<40))}, want: rpctypes.ErrFutureRev},
		{name: "write with range at a future revision", then: []clientv3.Op{put("txnerr/a"), clientv3.OpGet("txnerr/k", clientv3.WithRev(1<<40))}, want: rpctypes.ErrFutureRev},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := mustGet(t, cli, "txnerr/k").Header.Revision
			resp, err := cli.Txn(testCtx(t, 20*time.Second)).If(tc.cmps...).Then(tc.then...).Else(tc.els...).Commit()
			wantErr(t, err, tc.want)
			if err != nil {
				if after := mustGet(t, cli, "txnerr/k").Header.Revision; after != before {
					t.Errorf("a refused txn moved the revision from %d to %d", before, after)
				}
				if got := mustGet(t, cli, "txnerr/a"); tc.name != "same key in then and else" && len(got.Kvs) != 0 && got.Kvs[0].ModRevision > before {
					t.Errorf("a refused txn wrote txnerr/a")
				}
				return
			}
			if resp == nil {
				t.Fatal("no response")
			}
		})
	}
}

// testCompact checks Compact and what reads and watches below it get.
func testCompact(t *testing.T, c *agenttest.Cluster) {
	cli := c.Client()
	ctx := testCtx(t, time.Minute)
	r1 := mustPut(t, cli, "compact/k", "v1").Header.Revision
	r2 := mustPut(t, cli, "compact/k", "v2").Header.Revision
	r3 := mustPut(t, cli, "compact/k", "v3").Header.Revision
	if _, err := cli.Compact(ctx, r2); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rev  int64
		want error
		val  string
	}{
		{"below the compacted revision", r1, rpctypes.ErrCompacted, ""},
		{"far below", 1, rpctypes.ErrCompacted, ""},
		{"at the compacted revision", r2, nil, "v2"},
		{"above", r3, nil, "v3"},
		{"current", 0, nil, "v3"},
	} {
		t.Run("read "+tc.name, func(t *testing.T) {
			resp, err := cli.Get(testCtx(t, 20*time.Second), "compact/k", clientv3.WithRev(tc.rev))
			wantErr(t, err, tc.want)
			if err == nil && (len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != tc.val) {
				t.Errorf("kvs = %v, want %s", resp.Kvs, tc.val)
			}
		})
	}
	t.Run("every member compacted", func(t *testing.T) {
		for i := range c.Size() {
			mcli := c.Client(i)
			waitUntil(t, 10*time.Second, fmt.Sprintf("member %d to apply the compaction", i), func() bool {
				_, err := mcli.Get(testCtx(t, 5*time.Second), "compact/k", clientv3.WithRev(r1), clientv3.WithSerializable())
				return err == rpctypes.ErrCompacted
			})
		}
	})
	t.Run("compact again", func(t *testing.T) {
		_, err := cli.Compact(testCtx(t, 20*time.Second), r2)
		wantErr(t, err, rpctypes.ErrCompacted)
		_, err = cli.Compact(testCtx(t, 20*time.Second), r1)
		wantErr(t, err, rpctypes.ErrCompacted)
	})
	t.Run("compact a future revision", func(t *testing.T) {
		_, err := cli.Compact(testCtx(t, 20*time.Second), r3+1000)
		wantErr(t, err, rpctypes.ErrFutureRev)
	})
	t.Run("watch below the compacted revision", func(t *testing.T) {
		wctx, cancel := context.WithCancel(testCtx(t, 20*time.Second))
		defer cancel()
		wch := cli.Watch(wctx, "compact/k", clientv3.WithRev(r1))
		select {
		case resp, ok := <-wch:
			if !ok {
				t.Fatal("watch channel closed without a response")
			}
			if resp.CompactRevision != r2 || !resp.Canceled || resp.Err() != rpctypes.ErrCompacted {
				t.Fatalf("watch response: compact revision %d canceled %v err %v; want %d, true, %v", resp.CompactRevision, resp.Canceled, resp.Err(), r2, rpctypes.ErrCompacted)
			}
		case <-wctx.Done():
			t.Fatal("no watch response")
		}
		select {
		case _, ok := <-wch:
			if ok {
				t.Error("watch channel still open after the compaction error")
			}
		case <-wctx.Done():
			t.Error("watch channel not closed")
		}
	})
	t.Run("watch from the compacted revision", func(t *testing.T) {
		wctx, cancel := context.WithCancel(testCtx(t, 20*time.Second))
		defer cancel()
		wch := cli.Watch(wctx, "compact/k", clientv3.WithRev(r2))
		var got []string
		for len(got) < 2 {
			select {
			case resp := <-wch:
				if err := resp.Err(); err != nil {
					t.Fatal(err)
				}
				for _, ev := range resp.Events {
					got = append(got, fmt.Sprintf("%s@%d", ev.Kv.Value, ev.Kv.ModRevision))
				}
			case <-wctx.Done():
				t.Fatalf("events so far %q", got)
			}
		}
		if want := []string{fmt.Sprintf("v2@%d", r2), fmt.Sprintf("v3@%d", r3)}; !eq(got, want) {
			t.Errorf("events = %q, want %q", got, want)
		}
	})
}

// testHeaders checks every response header carries cluster_id, the
// answering member's id, the revision and the raft term.
func testHeaders(t *testing.T, c *agenttest.Cluster) {
	ids := memberIDs(t, c.Client())
	var clusterID uint64
	seen := map[uint64]bool{}
	for i := range c.Size() {
		cli := c.Client(i)
		ctx := testCtx(t, 20*time.Second)
		put := mustPut(t, cli, fmt.Sprintf("hdr/%d", i), "v")
		get := mustGet(t, cli, fmt.Sprintf("hdr/%d", i))
		st, err := cli.Status(ctx, c.Endpoint(i))
		if err != nil {
			t.Fatal(err)
		}
		lease, err := cli.Grant(ctx, 30)
		if err != nil {
			t.Fatal(err)
		}
		txn, err := cli.Txn(ctx).Then(clientv3.OpGet("hdr/")).Commit()
		if err != nil {
			t.Fatal(err)
		}
		del, err := cli.Delete(ctx, "hdr/none")
		if err != nil {
			t.Fatal(err)
		}
		ml, err := cli.MemberList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		headers := map[string]*pb.ResponseHeader{
			"put": put.Header, "get": get.Header, "status": st.Header, "grant": lease.ResponseHeader,
			"txn": txn.Header, "delete": del.Header, "member list": ml.Header,
		}
		want := ids[memberName(i)]
		if want == 0 {
			t.Fatalf("no member id for %s in %v", memberName(i), ids)
		}
		for name, h := range headers {
			if h == nil {
				t.Errorf("member %d %s: no header", i, name)
				continue
			}
			if h.MemberId != want {
				t.Errorf("member %d %s: member_id %x, want %x", i, name, h.MemberId, want)
			}
			if h.ClusterId == 0 || (clusterID != 0 && h.ClusterId != clusterID) {
				t.Errorf("member %d %s: cluster_id %x (others %x)", i, name, h.ClusterId, clusterID)
			}
			clusterID = h.ClusterId
			if h.RaftTerm == 0 || h.RaftTerm != st.RaftTerm {
				t.Errorf("member %d %s: raft_term %d, status says %d", i, name, h.RaftTerm, st.RaftTerm)
			}
			switch name {
			case "grant":
			case "member list":
				// etcd's Cluster API sets no revision.
				if h.Revision != 0 {
					t.Errorf("member %d %s: revision %d, want none (etcd's Cluster API sets none)", i, name, h.Revision)
				}
			default:
				if h.Revision < put.Header.Revision {
					t.Errorf("member %d %s: revision %d below the put's %d", i, name, h.Revision, put.Header.Revision)
				}
			}
		}
		if get.Header.Revision < get.Kvs[0].ModRevision || get.Kvs[0].ModRevision != put.Header.Revision {
			t.Errorf("member %d: get header revision %d, key at %d, put at %d", i, get.Header.Revision, get.Kvs[0].ModRevision, put.Header.Revision)
		}
		seen[get.Header.MemberId] = true
	}
	if len(seen) != c.Size() {
		t.Errorf("member ids in headers: %v, want %d distinct", seen, c.Size())
	}
}

// testLinearizableRead writes through one member and reads at once through
// another: a default (linearizable) read must see the write, however far
// behind the reading member's apply is.
func testLinearizableRead(t *testing.T, c *agenttest.Cluster) {
	l := c.Leader()
	var followers []int
	for i := range c.Size() {
		if i != l {
			followers = append(followers, i)
		}
	}
	pairs := [][2]int{{l, followers[0]}, {l, followers[1]}, {followers[0], followers[1]}, {followers[1], followers[0]}}
	for _, p := range pairs {
		w, r := c.Client(p[0]), c.Client(p[1])
		for i := range 25 {
			val := fmt.Sprintf("%d-%d-%d", p[0], p[1], i)
			put := mustPut(t, w, "linear/k", val)
			get := mustGet(t, r, "linear/k")
			if len(get.Kvs) != 1 || string(get.Kvs[0].Value) != val || get.Kvs[0].ModRevision != put.Header.Revision {
				t.Fatalf("write via member %d at %d, linearizable read via member %d got %v (header revision %d)",
					p[0], put.Header.Revision, p[1], get.Kvs, get.Header.Revision)
			}
			if get.Header.Revision < put.Header.Revision {
				t.Fatalf("read header revision %d below the write's %d", get.Header.Revision, put.Header.Revision)
			}
		}
	}
	// A read-only txn is a read too.
	for i := range 10 {
		val := fmt.Sprintf("txn-%d", i)
		mustPut(t, c.Client(l), "linear/t", val)
		resp, err := c.Client(followers[i%2]).Txn(testCtx(t, 20*time.Second)).Then(clientv3.OpGet("linear/t")).Commit()
		if err != nil {
			t.Fatal(err)
		}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) != 1 || string(kvs[0].Value) != val {
			t.Fatalf("read-only txn via a follower got %v, want %s", kvs, val)
		}
	}
}

// testSerializableReadOnFollower: a write through a follower answers once the
// leader applied it, and a serializable read (range or read-only txn) on that
// follower right after must still see it (etcd's read-your-writes on one
// member), however late the follower learns the commit.
func testSerializableReadOnFollower(t *testing.T, c *agenttest.Cluster) {
	f := c.Follower()
	cli := c.Client(f)
	for i := range 20 {
		val := fmt.Sprint(i)
		put := mustPut(t, cli, "serial/k", val)
		get := mustGet(t, cli, "serial/k", clientv3.WithSerializable())
		if len(get.Kvs) != 1 || string(get.Kvs[0].Value) != val || get.Kvs[0].ModRevision != put.Header.Revision {
			t.Fatalf("serializable read on follower %d after its own write at %d: %v", f, put.Header.Revision, get.Kvs)
		}
		if h := get.Header; h.MemberId != put.Header.MemberId {
			t.Fatalf("read answered by %x, write by %x", h.MemberId, put.Header.MemberId)
		}
		put = mustPut(t, cli, "serial/t", val)
		txn, err := cli.Txn(testCtx(t, 20*time.Second)).Then(clientv3.OpGet("serial/t", clientv3.WithSerializable())).Commit()
		if err != nil {
			t.Fatal(err)
		}
		if kvs := txn.Responses[0].GetResponseRange().Kvs; len(kvs) != 1 || kvs[0].ModRevision != put.Header.Revision {
			t.Fatalf("serializable read-only txn on follower %d after its own write at %d: %v", f, put.Header.Revision, kvs)
		}
	}
}

// testWatchAfterWriteOnFollower: a watch created without a start revision on
// the follower that acknowledged a write starts after that write, as it
// does in etcd, even if the follower has not applied it yet when the
// write's answer arrives.
func testWatchAfterWriteOnFollower(t *testing.T, c *agenttest.Cluster) {
	f := c.Follower()
	cli := c.Client(f)
	for i := range 10 {
		key := fmt.Sprintf("watchfence/%d", i)
		mustPut(t, cli, key, "before")
		ctx, cancel := context.WithCancel(testCtx(t, 20*time.Second))
		wch := cli.Watch(ctx, key)
		second := mustPut(t, c.Client(c.Leader()), key, "after")
		select {
		case wr := <-wch:
			if err := wr.Err(); err != nil || len(wr.Events) == 0 {
				t.Fatalf("watch on follower %d: %v, %d events", f, err, len(wr.Events))
			}
			if ev := wr.Events[0]; string(ev.Kv.Value) != "after" || ev.Kv.ModRevision != second.Header.Revision {
				t.Fatalf("watch created after the write of %q on follower %d saw %q at %d first", "before", f, ev.Kv.Value, ev.Kv.ModRevision)
			}
		case <-ctx.Done():
			t.Fatal("no event")
		}
		cancel()
	}
}
