package main

import (
	"errors"
	"strings"
	"testing"
)

// TestAgentOpsFlags: --log-format and --force-new-cluster reach the
// config; a bad format and --force-new-cluster with a cluster-forming flag
// are usage errors.
func TestAgentOpsFlags(t *testing.T) {
	base := []string{"--node-id", "n1", "--data-dir", "d"}
	c, err := parseAgent(t, append(base, "--log-format", "json", "--force-new-cluster"), nil)
	if err != nil || !c.logJSON || !c.node.ForceNewCluster {
		t.Fatalf("config %+v, err %v", c, err)
	}
	if c, err := parseAgent(t, base, nil); err != nil || c.logJSON || c.node.ForceNewCluster {
		t.Fatalf("defaults: json %t force %t err %v", c.logJSON, c.node.ForceNewCluster, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-format", "xml"}, `--log-format "xml"`},
		{[]string{"--force-new-cluster", "--bootstrap"}, "--force-new-cluster"},
		{[]string{"--force-new-cluster", "--join", "a:1"}, "--force-new-cluster"},
	} {
		_, err := parseAgent(t, append(base, tc.args...), nil)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want a usage error mentioning %q", tc.args, err, tc.want)
		}
	}
}
