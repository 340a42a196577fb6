package agent_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/node"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestNodeLogsReachAgentLoggerWithDefaultNodeConfig is the scenario of the
// concord binary (and agenttest): the node config starts from
// node.DefaultConfig, which fills in a discarding Logger, and only the
// agent's Logger is set. The node's and raft's logs must reach it; they
// used to be discarded, so a member's elections, snapshot installs and
// replication errors never showed up anywhere.
func TestNodeLogsReachAgentLoggerWithDefaultNodeConfig(t *testing.T) {
	var buf syncBuf
	cfg := agent.Config{ClientAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	cfg.Node = node.DefaultConfig()
	cfg.Node.ID, cfg.Node.DataDir, cfg.Node.PeerAddr, cfg.Node.Bootstrap = "n1", filepath.Join(t.TempDir(), "n1"), "127.0.0.1:0", true
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Crash()
	select {
	case <-a.Node.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Stop(ctx)
	if out := buf.String(); !strings.Contains(out, "component=raft") {
		t.Fatalf("no raft log line reached the agent's logger:\n%s", out)
	}
}
