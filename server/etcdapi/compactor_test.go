package etcdapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/server/etcdapi"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestParseAutoCompaction(t *testing.T) {
	cases := []struct {
		mode, retention string
		want            etcdapi.AutoCompaction
		wantErr         bool
	}{
		{"periodic", "1", etcdapi.AutoCompaction{Mode: "periodic", Retention: time.Hour}, false},
		{"periodic", "30m", etcdapi.AutoCompaction{Mode: "periodic", Retention: 30 * time.Minute}, false},
		{"", "2h", etcdapi.AutoCompaction{Mode: "periodic", Retention: 2 * time.Hour}, false},
		{"revision", "1000", etcdapi.AutoCompaction{Mode: "revision", Revisions: 1000}, false},
		{"periodic", "0", etcdapi.AutoCompaction{}, false},
		{"revision", "", etcdapi.AutoCompaction{}, false},
		{"revision", "1h", etcdapi.AutoCompaction{}, true},
		{"revision", "-3", etcdapi.AutoCompaction{}, true},
		{"periodic", "soon", etcdapi.AutoCompaction{}, true},
		{"weekly", "1", etcdapi.AutoCompaction{}, true},
	}
	for _, c := range cases {
		got, err := etcdapi.ParseAutoCompaction(c.mode, c.retention)
		if (err != nil) != c.wantErr {
			t.Errorf("%s/%s: err %v, want error %v", c.mode, c.retention, err, c.wantErr)
			continue
		}
		if err == nil && got != c.want {
			t.Errorf("%s/%s: got %+v, want %+v", c.mode, c.retention, got, c.want)
		}
	}
}

// The leader compacts on its own in revision mode, and reads below the
// compacted revision then fail as etcd's do.
func TestAutoCompactionRevisionMode(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.AutoCompaction = etcdapi.AutoCompaction{Mode: "revision", Revisions: 5, Interval: 50 * time.Millisecond}
	}})
	cli := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last int64
	for i := range 20 {
		resp, err := cli.Put(ctx, "ac/k", string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		last = resp.Header.Revision
	}
	c.WaitFor(20*time.Second, "auto compaction", func() bool {
		_, err := cli.Get(ctx, "ac/k", clientv3.WithRev(2))
		return errors.Is(err, rpctypes.ErrCompacted)
	})
	for i := range c.Size() {
		c.WaitFor(10*time.Second, "compaction applied on every member", func() bool {
			return c.Agent(i).Store.CompactRev() >= last-5
		})
	}
	// History inside the retention is still readable.
	if _, err := cli.Get(ctx, "ac/k", clientv3.WithRev(last-4)); err != nil {
		t.Fatalf("read within retention: %v", err)
	}
}
