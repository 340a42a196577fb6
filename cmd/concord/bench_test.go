package main

import (
	"bytes"
	"strings"
	"testing"
)

// Bad bench flags are usage errors (exit 2) with a message naming the flag,
// and nothing is dialed.
func TestBenchFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "put", "--clients", "0"}, "--clients"},
		{[]string{"bench", "put", "--duration", "1s", "--total", "5"}, "exclusive"},
		{[]string{"bench", "put", "--clients", "2", "--conns", "4"}, "--conns (4) is more than --clients (2)"},
		{[]string{"bench", "get", "--consistency", "strong"}, "--consistency"},
		{[]string{"bench", "mixed", "--read-ratio", "2"}, "--read-ratio"},
		{[]string{"bench", "put", "-o", "yaml"}, "--output"},
		{[]string{"bench", "put", "--rate", "-3"}, "--rate"},
		{[]string{"bench", "watch", "--value-size", "4"}, "at least 8"},
		{[]string{"bench", "put", "--read-ratio", "0.5"}, "unknown flag"},
		{[]string{"bench", "put", "extra"}, "unknown command"},
		{[]string{"bench", "compare", "--baseline-label", "old"}, "--baseline-label needs --baseline-concord"},
		{[]string{"bench", "compare", "--baseline-concord", "/nonexistent/concord", "--etcd", "/usr/bin/etcd"}, "exclusive"},
		{[]string{"bench", "compare", "--baseline-concord", "/nonexistent/concord", "--baseline-label", "concord"}, "both clusters the same"},
	} {
		var out, errb bytes.Buffer
		code := execute(tc.args, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errb.String(), exitUsage, tc.want)
		}
	}
}
