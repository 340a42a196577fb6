package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestCompose brings deploy/compose.yaml up as is (three members with
// --initial-cluster, advertised by service name), writes through one
// member, reads through the two others, checks the operator's view
// (`concord health --cluster` inside a container, and docker's health from
// the compose file's healthcheck), and tears it down.
func TestCompose(t *testing.T) {
	needDocker(t)
	c := upCompose(t)
	client := func(ep string) *clientv3.Client {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		return cli
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	put, err := client(c.members[0].ClientAddr()).Put(ctx, "compose/greeting", "hello from n1")
	if err != nil {
		t.Fatalf("put through n1: %v", err)
	}
	for _, m := range c.members[1:] {
		resp, err := client(m.ClientAddr()).Get(ctx, "compose/greeting")
		if err != nil {
			t.Fatalf("get through %s: %v", m.id, err)
		}
		if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "hello from n1" || resp.Kvs[0].ModRevision != put.Header.Revision {
			t.Fatalf("get through %s: %v, want the value written through n1 at revision %d", m.id, resp.Kvs, put.Header.Revision)
		}
	}
	members, err := client(c.members[2].ClientAddr()).MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range members.Members {
		names = append(names, m.Name+"@"+strings.Join(m.PeerURLs, ","))
	}
	if len(members.Members) != 3 {
		t.Fatalf("members: %v, want n1, n2, n3", names)
	}
	t.Logf("compose cluster: %v; write through n1 read through n2 and n3", names)

	// The operator's check, as docs/operations.md gives it: the binary in
	// the image asks every member through the compose network.
	out, err := c.members[1].exec(ctx, "health", "--cluster")
	if err != nil {
		t.Fatalf("concord health --cluster in n2's container: %v\n%s", err, out)
	}
	for _, m := range c.members {
		if !strings.Contains(out, m.id+" ("+m.id+":2379) is healthy") {
			t.Errorf("concord health --cluster says:\n%s\nwant %s healthy", out, m.id)
		}
	}
	// docker's health, from the healthcheck in compose.yaml (the image has
	// no shell: the check is /concord health).
	for _, m := range c.members {
		waitHealthy(ctx, t, m)
	}
	// The web console on every published client port: the page, and the
	// cluster view it polls (three members, one leader, healthy).
	for _, m := range c.members {
		checkConsole(ctx, t, m)
	}
}

// checkConsole fetches m's console page and the cluster view behind it
// through the port compose publishes.
func checkConsole(ctx context.Context, t *testing.T, m *composeMember) {
	t.Helper()
	get := func(path string) (*http.Response, []byte) {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+m.ClientAddr()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: GET %s: %v", m.id, path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: GET %s: HTTP %d %v: %.200s", m.id, path, resp.StatusCode, err, body)
		}
		return resp, body
	}
	resp, page := get("/ui/")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !bytes.Contains(page, []byte("<html")) {
		t.Errorf("%s: GET /ui/: Content-Type %q, body %.200s; want the console's HTML page", m.id, ct, page)
	}
	var view struct {
		Leader  string `json:"leader"`
		Healthy bool   `json:"healthy"`
		Members []struct {
			ID string `json:"id"`
		} `json:"members"`
	}
	_, body := get("/v1/console/cluster")
	if err := json.Unmarshal(body, &view); err != nil {
		t.Fatalf("%s: /v1/console/cluster: %v: %.200s", m.id, err, body)
	}
	if len(view.Members) != 3 || view.Leader == "" || !view.Healthy {
		t.Errorf("%s: the console's cluster view: %d members, leader %q, healthy %t; want 3, one leader, healthy: %s", m.id, len(view.Members), view.Leader, view.Healthy, body)
	}
}

// waitHealthy waits until docker reports m's container healthy.
func waitHealthy(ctx context.Context, t *testing.T, m *composeMember) {
	t.Helper()
	var last string
	for {
		h, err := m.health()
		if err == nil && h == "healthy" {
			return
		}
		last = h
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: docker health %q, want healthy", m.id, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
