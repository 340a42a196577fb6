package etcdapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A watcher that asked for progress notifications gets them periodically
// on a quiet key, carrying the current revision, as etcd's do.
func TestPeriodicProgressNotify(t *testing.T) {
	c := agenttest.Start(t, 1, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.WatchProgressNotifyInterval = 100 * time.Millisecond
	}})
	cli := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rev, err := cli.Put(ctx, "elsewhere", "x")
	if err != nil {
		t.Fatal(err)
	}
	wch := cli.Watch(ctx, "quiet", clientv3.WithProgressNotify())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			t.Fatal(err)
		}
		if resp.IsProgressNotify() && resp.Header.Revision >= rev.Header.Revision {
			return
		}
	}
	t.Fatal("no progress notification before the deadline")
}
