package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/server"
)

// parseAgent parses args as concord agent's flags, with env as the
// environment, and builds the config.
func parseAgent(t *testing.T, args []string, env map[string]string) (agentConfig, error) {
	t.Helper()
	o := &agentOptions{}
	cmd := newAgentCmdWith(o)
	if err := cmd.ParseFlags(args); err != nil {
		return agentConfig{}, err
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := applyEnv(cmd.Flags(), lookup); err != nil {
		return agentConfig{}, err
	}
	return o.buildConfig()
}

func TestBuildConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c agentConfig)
		wantErr string // substring of the usage error
	}{
		{name: "dev defaults", args: []string{"--dev"}, check: func(t *testing.T, c agentConfig) {
			n := c.node
			if n.ID != "dev" || n.DataDir != "concord-data" || !n.Bootstrap || n.PeerAddr != "127.0.0.1:2380" ||
				n.AdvertisePeerAddr != "127.0.0.1:2380" || n.ClientAddr != "127.0.0.1:2379" || c.clientAddr != "127.0.0.1:2379" {
				t.Fatalf("dev config %+v", n)
			}
		}},
		{name: "dev with id and dir", args: []string{"--dev", "--node-id", "me", "--data-dir", "/tmp/x"}, check: func(t *testing.T, c agentConfig) {
			if c.node.ID != "me" || c.node.DataDir != "/tmp/x" {
				t.Fatalf("got %s %s", c.node.ID, c.node.DataDir)
			}
		}},
		{name: "join and timeouts", args: []string{"--node-id", "n2", "--data-dir", "d", "--join", "a:1,b:2",
			"--heartbeat-timeout", "2s", "--election-timeout", "3s", "--leader-timeout", "4s", "--apply-timeout", "5s",
			"--snapshot-threshold", "100", "--max-snapshots", "3", "--snapshot-catchup-entries", "50"}, check: func(t *testing.T, c agentConfig) {
			n := c.node
			if n.TrailingLogs != 50 {
				t.Fatalf("--snapshot-catchup-entries 50 gave TrailingLogs %d", n.TrailingLogs)
			}
			if len(n.Join) != 2 || n.Join[1] != "b:2" || n.HeartbeatTimeout != 2*time.Second || n.ElectionTimeout != 3*time.Second ||
				n.LeaderTimeout != 4*time.Second || n.ApplyTimeout != 5*time.Second || n.SnapshotThreshold != 100 || n.MaxSnapshots != 3 {
				t.Fatalf("config %+v", n)
			}
		}},
		{name: "initial cluster", args: []string{"--node-id", "n1", "--data-dir", "d", "--peer-addr", "10.0.0.1:2380",
			"--initial-cluster", "n1=10.0.0.1:2380,n2=10.0.0.2:2380"}, check: func(t *testing.T, c agentConfig) {
			if want := []node.Peer{{ID: "n1", Addr: "10.0.0.1:2380"}, {ID: "n2", Addr: "10.0.0.2:2380"}}; len(c.node.InitialCluster) != 2 ||
				c.node.InitialCluster[0] != want[0] || c.node.InitialCluster[1] != want[1] {
				t.Fatalf("initial cluster %+v", c.node.InitialCluster)
			}
		}},
		{name: "advertise", args: []string{"--node-id", "n1", "--data-dir", "d", "--client-addr", "0.0.0.0:2379", "--peer-addr", "0.0.0.0:2380",
			"--advertise-client-addr", "h1:2379", "--advertise-peer-addr", "h1:2380"}, check: func(t *testing.T, c agentConfig) {
			if c.node.ClientAddr != "h1:2379" || c.node.AdvertisePeerAddr != "h1:2380" || c.clientAddr != "0.0.0.0:2379" {
				t.Fatalf("config %+v", c.node)
			}
		}},
		{name: "environment", args: []string{"--data-dir", "flag-wins"},
			env: map[string]string{"CONCORD_NODE_ID": "envnode", "CONCORD_DATA_DIR": "env-dir", "CONCORD_BOOTSTRAP": "true"},
			check: func(t *testing.T, c agentConfig) {
				if c.node.ID != "envnode" || c.node.DataDir != "flag-wins" || !c.node.Bootstrap {
					t.Fatalf("config %+v", c.node)
				}
			}},
		{name: "bad env value", args: []string{"--dev"}, env: map[string]string{"CONCORD_BOOTSTRAP": "maybe"}, wantErr: "CONCORD_BOOTSTRAP"},
		{name: "snapshot restore cap and spool dir", args: []string{"--dev", "--snapshot-max-restore-bytes", "1048576", "--snapshot-spool-dir", "/spool"},
			check: func(t *testing.T, c agentConfig) {
				if c.snapshot.MaxRestoreBytes != 1<<20 || c.snapshot.TempDir != "/spool" {
					t.Fatalf("snapshot config %+v", c.snapshot)
				}
			}},
		{name: "snapshot defaults", args: []string{"--dev"}, check: func(t *testing.T, c agentConfig) {
			if c.snapshot.MaxRestoreBytes != server.DefaultMaxRestoreBytes || c.snapshot.TempDir != "" {
				t.Fatalf("snapshot config %+v", c.snapshot)
			}
		}},
		{name: "bad restore cap", args: []string{"--dev", "--snapshot-max-restore-bytes", "0"}, wantErr: "--snapshot-max-restore-bytes must be positive"},
		{name: "no id", args: []string{"--data-dir", "d"}, wantErr: "--node-id is required"},
		{name: "no data dir", args: []string{"--node-id", "n"}, wantErr: "--data-dir is required"},
		{name: "bootstrap and join", args: []string{"--node-id", "n", "--data-dir", "d", "--bootstrap", "--join", "a:1"}, wantErr: "mutually exclusive"},
		{name: "dev and join", args: []string{"--dev", "--join", "a:1"}, wantErr: "--dev runs a single node"},
		{name: "bad initial cluster", args: []string{"--node-id", "n", "--data-dir", "d", "--initial-cluster", "n"}, wantErr: "not id=host:port"},
		{name: "initial cluster without self", args: []string{"--node-id", "n", "--data-dir", "d", "--initial-cluster", "m=h:1"}, wantErr: "does not list this node"},
		{name: "unspecified peer host", args: []string{"--dev", "--peer-addr", "0.0.0.0:2380"}, wantErr: "--advertise-peer-addr"},
		{name: "unspecified client host", args: []string{"--dev", "--client-addr", "[::]:2379"}, wantErr: "--advertise-client-addr"},
		{name: "bad log level", args: []string{"--dev", "--log-level", "loud"}, wantErr: "--log-level"},
		{name: "election below heartbeat", args: []string{"--dev", "--heartbeat-timeout", "2s", "--election-timeout", "1s"}, wantErr: "election timeout"},
		{name: "zero timeout", args: []string{"--dev", "--apply-timeout", "0s"}, wantErr: "--apply-timeout must be positive"},
		{name: "bad max snapshots", args: []string{"--dev", "--max-snapshots", "0"}, wantErr: "max snapshots"},
		{name: "kv limits and compaction", args: []string{"--dev", "--max-request-bytes", "4096", "--max-txn-ops", "8",
			"--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000"}, check: func(t *testing.T, c agentConfig) {
			if c.limits.MaxRequestBytes != 4096 || c.limits.MaxTxnOps != 8 || c.autoCompaction.Mode != "revision" || c.autoCompaction.Revisions != 1000 {
				t.Errorf("limits %+v, compaction %+v", c.limits, c.autoCompaction)
			}
		}},
		{name: "bad compaction retention", args: []string{"--dev", "--auto-compaction-mode", "revision", "--auto-compaction-retention", "1h"}, wantErr: "revision mode"},
		{name: "bad compaction mode", args: []string{"--dev", "--auto-compaction-mode", "weekly", "--auto-compaction-retention", "1"}, wantErr: "weekly"},
		{name: "zero txn ops", args: []string{"--dev", "--max-txn-ops", "0"}, wantErr: "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseAgent(t, tt.args, tt.env)
			if tt.wantErr != "" {
				var ue *usageError
				if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want a usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		args    []string
		want    int
		wantErr string
	}{
		{[]string{"version"}, exitOK, ""},
		{[]string{"agent", "--no-such-flag"}, exitUsage, "unknown flag"},
		{[]string{"agent", "--dev", "extra-arg"}, exitUsage, "unknown command"},
		{[]string{"agent", "--dev", "--max-snapshots", "many"}, exitUsage, "invalid argument"},
		{[]string{"agent"}, exitUsage, "--node-id is required"},
		{[]string{"status", "-o", "yaml"}, exitUsage, "--output"},
		{[]string{"members", "add", "only-id"}, exitUsage, "accepts 2 arg"},
		{[]string{"status", "--endpoints", "127.0.0.1:1", "--timeout", "2s"}, exitFailure, "no endpoint answered"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if got := execute(tt.args, &stdout, &stderr); got != tt.want {
			t.Errorf("concord %v exited %d, want %d; stderr: %s", tt.args, got, tt.want, stderr.String())
		}
		if !strings.Contains(stderr.String(), tt.wantErr) {
			t.Errorf("concord %v: stderr %q lacks %q", tt.args, stderr.String(), tt.wantErr)
		}
	}
}
