package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/server/etcdapi"
)

func TestLimitFlags(t *testing.T) {
	c, err := parseAgent(t, []string{"--dev"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := etcdapi.Limits{MaxRequestBytes: etcdapi.DefaultMaxRequestBytes, MaxTxnOps: etcdapi.DefaultMaxTxnOps,
		MaxRangeBytes: etcdapi.DefaultMaxRangeBytes, MaxConcurrentStreams: etcdapi.DefaultMaxConcurrentStreams,
		MaxWatchesPerConnection: etcdapi.DefaultMaxWatchesPerConnection, ClientSendTimeout: etcdapi.DefaultClientSendTimeout}
	if c.limits != def {
		t.Fatalf("default limits %+v, want %+v", c.limits, def)
	}
	c, err = parseAgent(t, []string{"--dev", "--max-range-bytes", "4194304", "--max-concurrent-streams", "10",
		"--max-watches-per-connection", "5", "--client-send-timeout", "5s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := c.limits; l.MaxRangeBytes != 4<<20 || l.MaxConcurrentStreams != 10 || l.MaxWatchesPerConnection != 5 || l.ClientSendTimeout != 5*time.Second {
		t.Fatalf("limits %+v", l)
	}
	// 0 turns a cap off: Limits' "none" is negative (its 0 is the default).
	c, err = parseAgent(t, []string{"--dev", "--max-range-bytes", "0", "--max-watches-per-connection", "0", "--client-send-timeout", "0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := c.limits; l.MaxRangeBytes >= 0 || l.MaxWatchesPerConnection >= 0 || l.ClientSendTimeout >= 0 {
		t.Fatalf("0 flags gave %+v, want no caps", l)
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--max-concurrent-streams", "0"}, "--max-concurrent-streams must be positive"},
		{[]string{"--max-range-bytes", "-1"}, "must not be negative"},
		{[]string{"--client-send-timeout", "-1s"}, "must not be negative"},
		{[]string{"--max-range-bytes", "1000"}, "must be at least MaxRequestBytes"},
	} {
		_, err := parseAgent(t, append([]string{"--dev"}, tc.args...), nil)
		var ue *usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: error %v, want a usage error with %q", tc.args, err, tc.wantErr)
		}
	}
}
