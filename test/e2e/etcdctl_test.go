package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// readyCluster starts n agents at once with --initial-cluster and waits
// until they are ready with one leader.
func readyCluster(t *testing.T, n int) []*agent {
	t.Helper()
	agents := newAgents(t, n)
	startInitialCluster(agents)
	waitReady(t, agents...)
	waitOneLeader(t, agents...)
	return agents
}

func clientAddrs(agents []*agent) string {
	var eps []string
	for _, a := range agents {
		eps = append(eps, a.clientAddr)
	}
	return strings.Join(eps, ",")
}

// etcdctlBinary finds Debian's etcdctl (package etcd-client, which .ci/run
// installs). Outside CI a missing etcdctl skips the test with the reason.
func etcdctlBinary(t *testing.T) string {
	path, err := exec.LookPath("etcdctl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("etcdctl is not installed, but CI must run the compatibility tests (.ci/run installs etcd-client)")
		}
		t.Skip("etcdctl not installed (apt-get install etcd-client); skipping the etcdctl compatibility test")
	}
	return path
}

// TestEtcdctlCompat runs the real etcdctl against a three-member cluster
// of the real binary.
func TestEtcdctlCompat(t *testing.T) {
	etcdctl := etcdctlBinary(t)
	t.Parallel()
	agents := readyCluster(t, 3)
	endpoints := clientAddrs(agents)
	ctl := func(stdin string, args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, etcdctl, append([]string{"--endpoints=" + endpoints, "--command-timeout=20s"}, args...)...)
		cmd.Env = append(cleanEnv(), "ETCDCTL_API=3")
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, errb.String())
		}
		return out.String(), err
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := ctl(stdin, args...)
		if err != nil {
			t.Fatalf("etcdctl %v: %v", args, err)
		}
		return out
	}
	expect := func(got, want string, args ...string) {
		t.Helper()
		if got != want {
			t.Fatalf("etcdctl %v:\n got %q\nwant %q", args, got, want)
		}
	}

	expect(must("", "put", "app/a", "1"), "OK\n", "put")
	expect(must("", "put", "app/b", "2"), "OK\n", "put")
	expect(must("", "get", "app/a"), "app/a\n1\n", "get")
	expect(must("", "get", "app/", "--prefix", "--print-value-only"), "1\n2\n", "get --prefix")
	expect(must("", "get", "app/", "--prefix", "--keys-only"), "app/a\n\napp/b\n\n", "get --keys-only")
	if out := must("", "get", "app/", "--prefix", "--write-out=fields"); !strings.Contains(out, `"Count" : 2`) {
		t.Fatalf("get -w fields: %q", out)
	}
	if out := must("", "get", "app/a", "--consistency=s", "-w", "json"); !strings.Contains(out, `"kvs"`) || !strings.Contains(out, `"raft_term"`) {
		t.Fatalf("get -w json: %s", out)
	}

	txn := "value(\"app/a\") = \"1\"\n\nput app/a \"one\"\nget app/b\n\nput app/a never\n\n"
	expect(must(txn, "txn"), "SUCCESS\n\nOK\n\napp/b\n2\n", "txn")
	if out := must(txn, "txn"); !strings.HasPrefix(out, "FAILURE") {
		t.Fatalf("second txn: %q", out)
	}

	// A watch from revision 1 replays every change, in order.
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	watch := exec.CommandContext(wctx, etcdctl, "--endpoints="+endpoints, "watch", "app/", "--prefix", "--rev=1")
	watch.Env = append(cleanEnv(), "ETCDCTL_API=3")
	var wout syncBuffer
	watch.Stdout = &wout
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	want := "PUT\napp/a\n1\nPUT\napp/b\n2\nPUT\napp/a\none\nPUT\napp/a\nnever\n"
	waitFor(t, 15*time.Second, "etcdctl watch output", func() error {
		if got := wout.String(); got != want {
			return fmt.Errorf("have %q", got)
		}
		return nil
	})
	watch.Process.Kill()
	watch.Wait()

	expect(must("", "del", "app/", "--prefix"), "2\n", "del --prefix")

	// Leases.
	out := must("", "lease", "grant", "60")
	var id string
	if _, err := fmt.Sscanf(out, "lease %s granted", &id); err != nil {
		t.Fatalf("lease grant: %q", out)
	}
	must("", "put", "leased", "x", "--lease="+id)
	if out := must("", "lease", "timetolive", id, "--keys"); !strings.Contains(out, "attached keys([leased])") {
		t.Fatalf("lease timetolive: %q", out)
	}
	if out := must("", "lease", "keep-alive", "--once", id); !strings.Contains(out, "keepalived with TTL(60)") {
		t.Fatalf("lease keep-alive: %q", out)
	}
	if out := must("", "lease", "list"); !strings.Contains(out, id) {
		t.Fatalf("lease list: %q", out)
	}
	expect(must("", "lease", "revoke", id), fmt.Sprintf("lease %s revoked\n", id), "lease revoke")
	expect(must("", "get", "leased"), "", "get after revoke")

	// Cluster and maintenance.
	if out := must("", "member", "list"); strings.Count(out, "started") != 3 || !strings.Contains(out, agents[0].peerAddr) {
		t.Fatalf("member list: %q", out)
	}
	if out := must("", "endpoint", "status", "-w", "table"); strings.Count(out, "true") != 1 {
		t.Fatalf("endpoint status must show exactly one leader: %s", out)
	}
	// etcdctl prints health to stderr.
	health, err := exec.Command(etcdctl, "--endpoints="+endpoints, "endpoint", "health").CombinedOutput()
	if out := string(health); err != nil || strings.Count(out, "is healthy") != 3 {
		t.Fatalf("endpoint health: %s", out)
	}
	hashes := must("", "endpoint", "hashkv", "-w", "json")
	if strings.Count(hashes, `"hash"`) != 3 {
		t.Fatalf("endpoint hashkv: %s", hashes)
	}
	if out := must("", "compaction", "3"); !strings.Contains(out, "compacted revision 3") {
		t.Fatalf("compaction: %q", out)
	}
	if _, err := ctl("", "get", "x", "--rev=2"); err == nil || !strings.Contains(err.Error(), "compacted") {
		t.Fatalf("read below compaction: %v", err)
	}
	snap := filepath.Join(t.TempDir(), "backup.snap")
	single := "--endpoints=" + agents[0].clientAddr
	if out, err := exec.Command(etcdctl, single, "snapshot", "save", snap).CombinedOutput(); err != nil {
		t.Fatalf("snapshot save: %v %s", err, out)
	}
	if fi, err := os.Stat(snap); err != nil || fi.Size() == 0 {
		t.Fatalf("snapshot file: %v", err)
	}
}

// TestClientV3ConcurrencyProcesses runs clientv3's lock and election
// recipes across the three members of a real-binary cluster.
func TestClientV3ConcurrencyProcesses(t *testing.T) {
	t.Parallel()
	agents := readyCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var inside, maxInside, total atomic.Int64
	errc := make(chan error, len(agents))
	for _, a := range agents {
		go func() {
			errc <- func() error {
				cli, err := clientv3.New(clientv3.Config{Endpoints: []string{a.clientAddr}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
				if err != nil {
					return err
				}
				defer cli.Close()
				sess, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
				if err != nil {
					return err
				}
				defer sess.Close()
				mu := concurrency.NewMutex(sess, "/lock")
				for range 5 {
					if err := mu.Lock(ctx); err != nil {
						return err
					}
					if n := inside.Add(1); n > maxInside.Load() {
						maxInside.Store(n)
					}
					total.Add(1)
					inside.Add(-1)
					if err := mu.Unlock(ctx); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	for range agents {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if maxInside.Load() != 1 || total.Load() != 15 {
		t.Fatalf("mutex: max holders %d, total %d", maxInside.Load(), total.Load())
	}

	// Election: one member campaigns and wins; another observes it.
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{agents[1].clientAddr}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	sess, err := concurrency.NewSession(cli)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	e := concurrency.NewElection(sess, "/election")
	if err := e.Campaign(ctx, "leader-1"); err != nil {
		t.Fatal(err)
	}
	obs, err := clientv3.New(clientv3.Config{Endpoints: []string{agents[2].clientAddr}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	osess, err := concurrency.NewSession(obs)
	if err != nil {
		t.Fatal(err)
	}
	defer osess.Close()
	resp, err := concurrency.NewElection(osess, "/election").Leader(ctx)
	if err != nil || string(resp.Kvs[0].Value) != "leader-1" {
		t.Fatalf("election leader: %v %+v", err, resp)
	}
	if err := e.Resign(ctx); err != nil {
		t.Fatal(err)
	}
}
