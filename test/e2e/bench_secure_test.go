package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/tlsconfig/tlstest"
)

// TestBenchSecuredCluster runs concord bench against a member with TLS on
// the client port and auth on: with --cacert/--cert/--key and --user the
// kv, SQL and resource workloads complete every request; without --user
// the bench is refused.
func TestBenchSecuredCluster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "ca")
	server := ca.Local(t, "server", "concord")
	client := ca.Issue(t, "client", "benchclient") // not a user: the CN names no one
	a := newAgent(t, "n1")
	a.start(append(a.nodeArgs(), "--bootstrap", "--bcrypt-cost", "4", "--cert-file", server.CertFile,
		"--key-file", server.KeyFile, "--trusted-ca-file", ca.CertFile)...)
	tlsFlags := []string{"--endpoints", "https://" + a.clientAddr, "--cacert", ca.CertFile, "--cert", client.CertFile, "--key", client.KeyFile}
	cli := func(args ...string) (string, error) { return runCmd(t, nil, binary, append(args, tlsFlags...)...) }
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cli("user", "add", "root:rootpw")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("user add over TLS: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, args := range [][]string{{"role", "add", "root"}, {"user", "grant-role", "root", "root"}, {"auth", "enable"}} {
		if out, err := cli(args...); err != nil {
			t.Fatalf("concord %v: %q %v", args, out, err)
		}
	}
	for _, workload := range []string{"put", "sql-insert", "resource-write"} {
		out, err := cli("bench", workload, "--total", "40", "--clients", "4", "--user", "root:rootpw", "-o", "json")
		if err != nil || !strings.Contains(out, `"errors": 0`) && !strings.Contains(out, `"errors":0`) {
			t.Fatalf("bench %s on the secured member: %v\n%s", workload, err, out)
		}
	}
	if out, err := cli("bench", "put", "--total", "10"); err == nil {
		t.Fatalf("bench put without --user on a member with auth on succeeded:\n%s", out)
	}
}
