package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/node"
)

func TestSmokeSingleNode(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.ID, cfg.DataDir, cfg.PeerAddr, cfg.Bootstrap = "n1", t.TempDir(), "127.0.0.1:0", true
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sm := &testcluster.LogSM{}
	n.Register(node.TypeUser, sm)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	<-n.Ready()
	for i := 0; i < 5; i++ {
		res, err := n.Apply(ctx, node.TypeUser, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("index %d data %v", res.Index, res.Data)
	}
	if err := n.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sm.Len(); got != 5 {
		t.Fatalf("applied %d", got)
	}
	t.Logf("%+v", n.Status())
}
