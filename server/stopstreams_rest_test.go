package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/server"
	"github.com/concord-db/concord/server/resourceapi"
)

// TestShutdownEndsRESTWatches: a graceful stop does not wait for REST
// watches (NDJSON streams that never end on their own) as it used to, for
// the whole grace period: each ends at once with a last line that tells
// the client to watch on another member, as gRPC watches end with
// Unavailable (TestShutdownEndsStreams).
func TestShutdownEndsRESTWatches(t *testing.T) {
	c := agenttest.Start(t, 1, agenttest.Options{})
	base := "http://" + c.Agent(0).ClientAddr()
	open := func(path string) *bufio.Scanner {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		return bufio.NewScanner(resp.Body)
	}
	kvWatch := open("/v1/watch/w/?prefix")
	if !kvWatch.Scan() {
		t.Fatalf("kv watch: no created line: %v", kvWatch.Err())
	}
	resWatch := open("/v1/resource/demo/v2/Artist?watch")
	if !resWatch.Scan() {
		t.Fatalf("resource watch: no end_of_snapshot line: %v", resWatch.Err())
	}

	start := time.Now()
	stopped := make(chan struct{})
	go func() { c.Stop(0); close(stopped) }() // with a 10 s grace period
	lastLine := func(s *bufio.Scanner) []byte {
		var last []byte
		for s.Scan() {
			last = append(last[:0], s.Bytes()...)
		}
		return last
	}
	var kvEnd server.WatchEvent
	if b := lastLine(kvWatch); json.Unmarshal(b, &kvEnd) != nil || !kvEnd.Canceled || kvEnd.Reason != "etcdserver: server stopped" {
		t.Errorf("kv watch ended with %q, want a canceled event with etcd's reason", b)
	}
	var resEnd resourceapi.WatchLine
	if b := lastLine(resWatch); json.Unmarshal(b, &resEnd) != nil || resEnd.Type != "error" || resEnd.Code != resourceapi.CodeUnavailable {
		t.Errorf("resource watch ended with %q, want an error line with code %s", b, resourceapi.CodeUnavailable)
	}
	<-stopped
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the stop took %s: it waited for the watches instead of ending them", took)
	}
}
