package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
)

// TestResourceWatchResumesAcrossAStop: `concord resource watch` keeps
// going when the member it watches on stops. It resumes from the last
// version it printed on the next endpoint, and prints every later change
// once, in order, as etcdctl watch does across a member's restart.
func TestResourceWatchResumesAcrossAStop(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	watched, other := c.Follower(), c.Leader()
	put := func(name string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", "http://"+c.Endpoint(other)+"/v1/resource/demo/v2/Artist/"+name, strings.NewReader(`{"data": {"name": "x"}}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("put %s: %s %s", name, resp.Status, body)
		}
	}
	watchers := func() bool {
		resp, err := http.Get("http://" + c.Endpoint(watched) + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "\nconcord_resource_watchers 1\n")
	}
	put("a1")
	c.WaitFor(30*time.Second, "the follower to apply a1", func() bool {
		resp, err := http.Get("http://" + c.Endpoint(watched) + "/v1/resource/demo/v2/Artist/a1")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := run(t, "", "resource", "watch", "demo.v2.Artist", "--max-events", "4",
			"--endpoints="+c.Endpoint(watched)+","+c.Endpoint(other))
		done <- result{code, out, errs}
	}()
	c.WaitFor(30*time.Second, "the watch to start on the follower", watchers)
	c.Stop(watched)
	put("a2")
	put("a3")
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the watch did not print the changes made after its member stopped")
	}
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if r.code != exitOK || len(lines) != 4 {
		t.Fatalf("exit %d, %d lines:\n%s%s", r.code, len(lines), r.out, r.errs)
	}
	var versions []string
	for i, want := range []string{"upsert", "end_of_snapshot", "upsert", "upsert"} {
		f := strings.Fields(lines[i])
		if len(f) < 2 || f[0] != want {
			t.Fatalf("line %d is %q, want %s:\n%s", i, lines[i], want, r.out)
		}
		versions = append(versions, f[1])
	}
	if !strings.HasSuffix(lines[2], "/a2") || !strings.HasSuffix(lines[3], "/a3") || versions[0] != versions[1] ||
		versions[2] == versions[1] || versions[3] == versions[2] {
		t.Fatalf("after the stop the watch printed, in order, something other than a2 then a3 once each:\n%s", r.out)
	}
}
