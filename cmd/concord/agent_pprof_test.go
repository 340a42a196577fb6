package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/server"
)

// TestAgentPprofFlag runs concord agent with --pprof in process: the
// profiles are served on the client port and the status reports the
// binary's version; without the flag there are no profiles.
func TestAgentPprofFlag(t *testing.T) {
	for _, pprof := range []bool{true, false} {
		addr := runTestAgent(t, pprof)
		resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if pprof && (resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile:")) {
			t.Errorf("--pprof: %d %.200s", resp.StatusCode, body)
		}
		if !pprof && resp.StatusCode != http.StatusNotFound {
			t.Errorf("without --pprof: %d %.200s", resp.StatusCode, body)
		}
		resp, err = http.Get("http://" + addr + "/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		var st server.StatusResponse
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || st.Version != versionString() {
			t.Errorf("status version %q (%v), want %q", st.Version, err, versionString())
		}
	}
}

// runTestAgent starts a one-node agent on loopback ports until the test
// ends and returns its client address once it is ready.
func runTestAgent(t *testing.T, pprof bool) string {
	t.Helper()
	client, peer := freeLoopbackAddr(t), freeLoopbackAddr(t)
	args := []string{"--node-id", "n1", "--data-dir", filepath.Join(t.TempDir(), "n1"), "--bootstrap",
		"--client-addr", client, "--peer-addr", peer, "--heartbeat-timeout", "300ms", "--election-timeout", "300ms"}
	if pprof {
		args = append(args, "--pprof")
	}
	o := &agentOptions{}
	if err := newAgentCmdWith(o).ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runAgent(ctx, o, io.Discard, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + client + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return client
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
