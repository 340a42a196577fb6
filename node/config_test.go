package node_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
)

func TestConfigValidate(t *testing.T) {
	valid := func() node.Config {
		c := node.DefaultConfig()
		c.ID, c.DataDir, c.PeerAddr = "n1", "/tmp/concord-n1", "127.0.0.1:2380"
		c.AdvertisePeerAddr = c.PeerAddr
		return c
	}
	tests := []struct {
		name   string
		modify func(*node.Config)
		want   []string // substrings of the error; none: valid
	}{
		{"valid", func(*node.Config) {}, nil},
		{"bootstrap", func(c *node.Config) { c.Bootstrap = true }, nil},
		{"join", func(c *node.Config) { c.Join = []string{"127.0.0.1:2381"} }, nil},
		{"initial cluster", func(c *node.Config) {
			c.InitialCluster = []node.Peer{{"n1", "127.0.0.1:2380"}, {"n2", "127.0.0.1:2381"}}
		}, nil},
		{"port 0 without advertise", func(c *node.Config) { c.PeerAddr, c.AdvertisePeerAddr = "127.0.0.1:0", "" }, nil},
		{"no id", func(c *node.Config) { c.ID = "" }, []string{"node ID is required"}},
		{"id with comma", func(c *node.Config) { c.ID = "a,b" }, []string{`node ID "a,b" may not contain`}},
		{"id with space", func(c *node.Config) { c.ID = "a b" }, []string{"may not contain"}},
		{"no data dir", func(c *node.Config) { c.DataDir = "" }, []string{"data dir is required"}},
		{"no peer addr", func(c *node.Config) { c.PeerAddr = "" }, []string{"peer address is required"}},
		{"peer addr without port", func(c *node.Config) { c.PeerAddr = "localhost" }, []string{`peer address "localhost" is not host:port`}},
		{"unspecified advertise", func(c *node.Config) { c.AdvertisePeerAddr = "0.0.0.0:2380" }, []string{"must name a reachable host"}},
		{"empty advertise host", func(c *node.Config) { c.AdvertisePeerAddr = ":2380" }, []string{"must name a reachable host"}},
		{"two modes", func(c *node.Config) { c.Bootstrap, c.Join = true, []string{"127.0.0.1:2381"} }, []string{"mutually exclusive (got 2"}},
		{"bad join addr", func(c *node.Config) { c.Join = []string{"nope"} }, []string{`join address "nope" is not host:port`}},
		{"initial cluster without self", func(c *node.Config) {
			c.InitialCluster = []node.Peer{{"n2", "127.0.0.1:2381"}}
		}, []string{"does not list this node (n1)"}},
		{"initial cluster duplicate", func(c *node.Config) {
			c.InitialCluster = []node.Peer{{"n1", "127.0.0.1:2380"}, {"n1", "127.0.0.1:2380"}}
		}, []string{"listed twice"}},
		{"initial cluster wrong self addr", func(c *node.Config) {
			c.InitialCluster = []node.Peer{{"n1", "127.0.0.1:9999"}}
		}, []string{"lists this node (n1) at 127.0.0.1:9999 but its advertise peer address is 127.0.0.1:2380"}},
		{"initial cluster member without id", func(c *node.Config) {
			c.InitialCluster = []node.Peer{{"n1", "127.0.0.1:2380"}, {"", "127.0.0.1:2381"}}
		}, []string{`member with address "127.0.0.1:2381" has no ID`}},
		{"negative retries", func(c *node.Config) { c.CommitRetries = -1 }, []string{"commit retries must be >= 0, got -1"}},
		{"no snapshots kept", func(c *node.Config) { c.MaxSnapshots = -1 }, []string{"max snapshots must be >= 1"}},
		{"too many append entries", func(c *node.Config) { c.MaxAppendEntries = 5000 }, []string{"max append entries must be in [1, 1024], got 5000"}},
		{"negative timeout", func(c *node.Config) { c.ApplyTimeout = -time.Second }, []string{"apply timeout must be positive, got -1s"}},
		{"tiny heartbeat", func(c *node.Config) { c.HeartbeatTimeout, c.ElectionTimeout = time.Millisecond, time.Second }, []string{"heartbeat timeout must be at least 5ms"}},
		{"election below heartbeat", func(c *node.Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 }, []string{"election timeout (500ms) must be at least the heartbeat timeout (1s)"}},
		{"every problem at once", func(c *node.Config) { c.ID, c.DataDir, c.CommitRetries = "", "", -1 },
			[]string{"node ID is required", "data dir is required", "commit retries"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted the config, want an error with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestNewRejectsInvalidConfig: New validates (after filling defaults) and
// changes nothing on disk.
func TestNewRejectsInvalidConfig(t *testing.T) {
	dir := t.TempDir() + "/data"
	_, err := node.New(node.Config{ID: "n1", DataDir: dir, PeerAddr: "0.0.0.0:2380"})
	if err == nil || !strings.Contains(err.Error(), "must name a reachable host") {
		t.Fatalf("New with an unspecified peer address and no advertise address: %v", err)
	}
	if _, err := node.New(node.Config{}); err == nil || !strings.Contains(err.Error(), "invalid node config") {
		t.Fatalf("New(Config{}): %v", err)
	}
	if errors.Is(err, node.ErrShutdown) {
		t.Fatal("unexpected error kind")
	}
}

// TestConfigValidateFromDefaults: a config built as documented (DefaultConfig,
// then ID, DataDir, PeerAddr and an initial cluster) validates as New sees it.
func TestConfigValidateFromDefaults(t *testing.T) {
	c := node.DefaultConfig()
	c.ID, c.DataDir, c.PeerAddr = "n1", "/tmp/x", "127.0.0.1:2380"
	c.InitialCluster = []node.Peer{{"n1", "127.0.0.1:2380"}, {"n2", "127.0.0.1:2381"}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c.PeerAddr, c.InitialCluster = "0.0.0.0:2380", nil
	if err := c.Validate(); err == nil {
		t.Fatal("Validate accepted an unspecified peer address with no advertise address")
	}
}
