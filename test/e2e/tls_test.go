package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/tlsconfig/tlstest"
)

// runCmd runs a program with a timeout and returns its stdout, or an error
// with its stderr.
func runCmd(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), &cmdError{err: err, stderr: errb.String()}
	}
	return out.String(), nil
}

type cmdError struct {
	err    error
	stderr string
}

func (e *cmdError) Error() string { return e.err.Error() + ": " + e.stderr }

// TestTLSBinary runs the real binary with etcd's TLS flags on both ports:
// concord's client commands (flags and CONCORD_* variables) and etcdctl
// work with the CA and a client certificate, a client without one is
// refused, and a member whose peer certificate comes from another CA
// cannot join.
func TestTLSBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "ca")
	server := ca.Local(t, "server", "concord")
	peer := ca.Local(t, "peer", "concord-peer")
	client := ca.Issue(t, "client", "root")
	tlsArgs := func(srv, pr tlstest.Cert, caFile string) []string {
		return []string{"--cert-file", srv.CertFile, "--key-file", srv.KeyFile, "--trusted-ca-file", caFile,
			"--client-cert-auth", "--peer-cert-file", pr.CertFile, "--peer-key-file", pr.KeyFile,
			"--peer-trusted-ca-file", caFile, "--peer-client-cert-auth", "--tls-min-version", "TLS1.2"}
	}
	a := newAgent(t, "n1")
	a.start(append(append(a.nodeArgs(), "--bootstrap"), tlsArgs(server, peer, ca.CertFile)...)...)

	cli := func(env []string, args ...string) (string, error) {
		return runCmd(t, env, binary, args...)
	}
	certFlags := []string{"--endpoints", a.clientAddr, "--cacert", ca.CertFile, "--cert", client.CertFile, "--key", client.KeyFile}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cli(nil, append([]string{"kv", "put", "k", "v"}, certFlags...)...)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("concord kv put over TLS: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	env := []string{"CONCORD_CACERT=" + ca.CertFile, "CONCORD_CERT=" + client.CertFile, "CONCORD_KEY=" + client.KeyFile}
	if out, err := cli(env, "kv", "get", "k", "--endpoints", a.clientAddr); err != nil || !strings.Contains(out, "v") {
		t.Fatalf("concord kv get with CONCORD_* TLS variables: %q %v", out, err)
	}
	if out, err := cli(env, "status", "--endpoints", "https://"+a.clientAddr); err != nil {
		t.Fatalf("concord status over https: %q %v", out, err)
	}
	if _, err := cli(nil, "kv", "get", "k", "--endpoints", a.clientAddr, "--cacert", ca.CertFile, "--timeout", "3s"); err == nil {
		t.Fatal("a client without a certificate read through --client-cert-auth")
	}
	if _, err := cli(nil, "status", "--endpoints", a.clientAddr, "--timeout", "5s"); err == nil {
		t.Fatal("plain HTTP to the TLS port succeeded")
	}

	if etcdctl, err := exec.LookPath("etcdctl"); err == nil {
		ctlArgs := []string{"--endpoints=" + a.clientAddr, "--cacert=" + ca.CertFile, "--cert=" + client.CertFile,
			"--key=" + client.KeyFile, "--command-timeout=20s"}
		out, err := runCmd(t, []string{"ETCDCTL_API=3"}, etcdctl, append(ctlArgs, "get", "k")...)
		if err != nil || out != "k\nv\n" {
			t.Fatalf("etcdctl get over TLS: %q %v", out, err)
		}
	}

	// A fourth party with a certificate from another CA tries to join.
	other := tlstest.NewCA(t, t.TempDir(), "other")
	b := newAgent(t, "intruder")
	b.start(append(append(b.nodeArgs(), "--join", a.peerAddr),
		tlsArgs(other.Local(t, "server", "x"), other.Local(t, "peer", "x"), ca.CertFile)...)...)
	stable := time.Now().Add(5 * time.Second)
	for time.Now().Before(stable) {
		out, err := cli(nil, append([]string{"members", "-o", "json"}, certFlags...)...)
		if err != nil {
			t.Fatalf("members: %v", err)
		}
		if strings.Contains(out, "intruder") {
			t.Fatalf("a member with a foreign peer certificate joined: %s", out)
		}
		if !strings.Contains(out, "https://") {
			t.Fatalf("members do not advertise https client URLs: %s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
