package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/concord-db/concord/server"
)

// TestPrintStatusDisk: `concord status` says when the data dir is full, and
// how many writes were refused for space once it is not.
func TestPrintStatusDisk(t *testing.T) {
	for _, c := range []struct {
		st   server.StatusResponse
		want string // "" for no disk line
	}{
		{server.StatusResponse{ID: "n1"}, ""},
		{server.StatusResponse{ID: "n1", DiskFull: true, DiskFullErrors: 3}, "disk: FULL: writes refused until the data dir has space again (3 writes refused)\n"},
		{server.StatusResponse{ID: "n1", DiskFullErrors: 5}, "disk: ok (5 writes refused for space since start)\n"},
	} {
		var b bytes.Buffer
		if err := printStatus(&b, c.st); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if c.want == "" && strings.Contains(out, "disk:") || c.want != "" && !strings.Contains(out, c.want) {
			t.Errorf("status %+v printed:\n%s\nwant the line %q", c.st, out, c.want)
		}
	}
}

// TestPrintStatusVersion: `concord status` shows the member's build.
func TestPrintStatusVersion(t *testing.T) {
	var b bytes.Buffer
	if err := printStatus(&b, server.StatusResponse{ID: "n1", Version: "v1.2.3 0123456789ab"}); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "VERSION") || !strings.Contains(out, "v1.2.3 0123456789ab") {
		t.Errorf("status printed:\n%s", out)
	}
}
