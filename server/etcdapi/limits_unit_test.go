package etcdapi

import (
	"strings"
	"testing"
)

func TestLimitsValidate(t *testing.T) {
	if err := (Limits{}).Validate(); err != nil {
		t.Fatalf("zero Limits (the defaults): %v", err)
	}
	if err := (Limits{MaxRangeBytes: -1, MaxWatchesPerConnection: -1, ClientSendTimeout: -1}).Validate(); err != nil {
		t.Fatalf("no caps: %v", err)
	}
	for _, tc := range []struct {
		l    Limits
		want string
	}{
		{Limits{MaxRequestBytes: -1}, "MaxRequestBytes"},
		{Limits{MaxTxnOps: -1}, "MaxTxnOps"},
		{Limits{MaxRangeBytes: 100}, "MaxRangeBytes"},
		{Limits{MaxRequestBytes: 1 << 20, MaxRangeBytes: 1<<20 - 1}, "at least MaxRequestBytes"},
	} {
		if err := tc.l.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error about %s", tc.l, err, tc.want)
		}
	}
}
