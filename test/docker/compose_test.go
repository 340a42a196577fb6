package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestCompose brings deploy/compose.yaml up as is (three members with
// --initial-cluster, advertised by service name), writes through one
// member, reads through the two others, and tears it down.
func TestCompose(t *testing.T) {
	needDocker(t)
	base := compose(t)
	project := fmt.Sprintf("concordtest%d", os.Getpid())
	ports := []string{freePort(t), freePort(t), freePort(t)}
	env := append(os.Environ(), "CONCORD_IMAGE="+image,
		"CONCORD_N1_PORT="+ports[0], "CONCORD_N2_PORT="+ports[1], "CONCORD_N3_PORT="+ports[2])
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		full := append(append(base[1:len(base):len(base)], "-p", project, "-f", filepath.Join(repoRoot, "deploy", "compose.yaml")), args...)
		cmd := exec.CommandContext(ctx, base[0], full...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := run("logs", "--no-color")
			t.Logf("compose logs:\n%s", out)
		}
		if out, err := run("down", "-v", "--remove-orphans"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})
	if out, err := run("up", "-d"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	var eps []string
	for _, p := range ports {
		eps = append(eps, "127.0.0.1:"+p)
		waitReady(t, "127.0.0.1:"+p, 90*time.Second)
	}
	client := func(ep string) *clientv3.Client {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		return cli
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	put, err := client(eps[0]).Put(ctx, "compose/greeting", "hello from n1")
	if err != nil {
		t.Fatalf("put through n1: %v", err)
	}
	for i, ep := range eps[1:] {
		resp, err := client(ep).Get(ctx, "compose/greeting")
		if err != nil {
			t.Fatalf("get through n%d: %v", i+2, err)
		}
		if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "hello from n1" || resp.Kvs[0].ModRevision != put.Header.Revision {
			t.Fatalf("get through n%d: %v, want the value written through n1 at revision %d", i+2, resp.Kvs, put.Header.Revision)
		}
	}
	members, err := client(eps[2]).MemberList(ctx)
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
}
