package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLogsJSONAndQuietWhenIdle starts a member with --log-format json:
// every log line is a JSON object with a level and a message, the events
// of its start are there, and once it is ready and idle (only status
// requests for several election timeouts) it writes nothing at the
// default level.
func TestLogsJSONAndQuietWhenIdle(t *testing.T) {
	t.Parallel()
	a := newAgent(t, "n1")
	a.start(append(a.nodeArgs(), "--bootstrap", "--log-format", "json")...)
	waitReady(t, a)
	waitOneLeader(t, a)
	kvPut(t, a, "k", "v")
	// The start's lines are out once the member is ready and wrote "ready".
	waitFor(t, readyTimeout, "the ready line", func() error {
		if !strings.Contains(a.log.String(), `"msg":"ready"`) {
			return errDone("no ready line yet")
		}
		return nil
	})
	before := a.log.String()
	var events int
	for _, line := range strings.Split(before, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue // the run header and the banner on stdout
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, line)
		}
		if rec["level"] == nil || rec["msg"] == nil || rec["time"] == nil {
			t.Fatalf("a log line lacks time, level or msg: %s", line)
		}
		events++
	}
	if events == 0 || strings.Contains(before, " level=INFO ") {
		t.Fatalf("want JSON log lines only, got:\n%s", before)
	}
	if !strings.Contains(before, `"msg":"leading"`) {
		t.Fatalf("no leadership line in:\n%s", before)
	}

	// Idle: only status requests, for several election timeouts.
	end := time.Now().Add(4 * time.Second)
	for polls := 0; polls < 10 || time.Now().Before(end); polls++ {
		if _, err := a.status(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if extra := strings.TrimPrefix(a.log.String(), before); extra != "" {
		t.Fatalf("an idle member logged at the default level:\n%s", extra)
	}
}

type errDone string

func (e errDone) Error() string { return string(e) }
