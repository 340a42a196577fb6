package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/concord-db/concord/resource"
)

// TestAgentResourceFlags: the --resource-* flags reach the store's config
// with the store's defaults when unset; a value the store would refuse is
// a usage error.
func TestAgentResourceFlags(t *testing.T) {
	base := []string{"--node-id", "n1", "--data-dir", "d"}
	c, err := parseAgent(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (resource.Config{MaxResourceBytes: resource.DefaultMaxResourceBytes, HistoryEvents: resource.DefaultHistoryEvents, WatchBuffer: resource.DefaultWatchBuffer}); c.resource != want {
		t.Fatalf("defaults %+v, want %+v", c.resource, want)
	}
	c, err = parseAgent(t, append(base, "--resource-history-events", "250000", "--resource-watch-buffer", "64", "--resource-max-bytes", "1024"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (resource.Config{MaxResourceBytes: 1024, HistoryEvents: 250000, WatchBuffer: 64}); c.resource != want {
		t.Fatalf("config %+v, want %+v", c.resource, want)
	}
	for _, args := range [][]string{
		{"--resource-history-events", "0"},
		{"--resource-watch-buffer", "-1"},
		{"--resource-max-bytes", "0"},
		{"--resource-max-bytes", "1073741824"},
	} {
		_, err := parseAgent(t, append(base, args...), nil)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: err %v, want a usage error naming the flag", args, err)
		}
	}
}
