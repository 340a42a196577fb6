package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestEtcdctlAuth runs etcdctl's user, role and auth commands against a
// three-member cluster of the real binary and checks etcd's output and
// errors, then concord's own auth commands against the same cluster.
func TestEtcdctlAuth(t *testing.T) {
	etcdctl := etcdctlBinary(t)
	t.Parallel()
	agents := readyCluster(t, 3)
	endpoints := clientAddrs(agents)
	ctl := func(args ...string) (string, string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, etcdctl, append([]string{"--endpoints=" + endpoints, "--command-timeout=20s"}, args...)...)
		cmd.Env = append(cleanEnv(), "ETCDCTL_API=3")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	expect := func(want string, args ...string) {
		t.Helper()
		out, stderr, err := ctl(args...)
		if err != nil || out != want {
			t.Fatalf("etcdctl %v:\n got %q (%v, %s)\nwant %q", args, out, err, stderr, want)
		}
	}
	refused := func(wantErr string, args ...string) {
		t.Helper()
		out, stderr, err := ctl(args...)
		if err == nil || !strings.Contains(stderr, wantErr) {
			t.Fatalf("etcdctl %v: %q %v, stderr %q; want the error %q", args, out, err, stderr, wantErr)
		}
	}

	refused("etcdserver: root user does not exist", "auth", "enable")
	expect("User root created\n", "user", "add", "root:rootpw")
	// etcdctl answers "root user does not have root role" by adding the
	// root role, granting it and enabling again, as against etcd.
	expect("Authentication Enabled\n", "auth", "enable")
	refused("etcdserver: user name is empty", "role", "add", "app")
	root := "--user=root:rootpw"
	expect("Role app created\n", root, "role", "add", "app")
	expect("Role app updated\n", root, "role", "grant-permission", "app", "readwrite", "app/", "--prefix")
	expect("User alice created\n", root, "user", "add", "alice:alicepw")
	expect("Role app is granted to user alice\n", root, "user", "grant-role", "alice", "app")

	alice := "--user=alice:alicepw"
	expect("OK\n", alice, "put", "app/x", "1")
	expect("app/x\n1\n", alice, "get", "app/x")
	expect("app/x\n1\n", alice, "get", "app/", "--prefix")
	refused("etcdserver: permission denied", alice, "put", "other", "1")
	refused("etcdserver: permission denied", alice, "get", "", "--prefix")
	refused("etcdserver: permission denied", alice, "user", "list")
	refused("etcdserver: user name is empty", "put", "app/x", "2")
	refused("etcdserver: authentication failed, invalid user ID or password", "--user=alice:wrong", "get", "app/x")

	expect("Role app\nKV Read:\n\t[app/, app0) (prefix app/)\nKV Write:\n\t[app/, app0) (prefix app/)\n", root, "role", "get", "app")
	expect("User: alice\nRoles: app\n", root, "user", "get", "alice")
	expect("alice\nroot\n", root, "user", "list")
	refused("etcdserver: invalid auth management", root, "user", "delete", "root")

	// concord's own commands, same output, same cluster.
	eps := "--endpoints=" + endpoints
	if got := runCLI(t, "user", "list", eps, "--user", "root:rootpw"); got != "alice\nroot\n" {
		t.Fatalf("concord user list: %q", got)
	}
	if got := runCLI(t, "role", "get", "app", eps, "--user", "root:rootpw"); !strings.Contains(got, "(prefix app/)") {
		t.Fatalf("concord role get: %q", got)
	}
	if got := runCLI(t, "kv", "put", "app/y", "2", eps, "--user", "alice:alicepw"); got != "OK\n" {
		t.Fatalf("concord kv put: %q", got)
	}
	if got := runCLI(t, "auth", "status", eps, "--user", "root:rootpw"); !strings.HasPrefix(got, "Authentication Status: true\n") {
		t.Fatalf("concord auth status: %q", got)
	}
	// The REST API takes the same users.
	req := fmt.Sprintf("http://%s/v1/kv/app/x", agents[1].clientAddr)
	if out, _, err := curlBasic(req, "alice:alicepw"); err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("REST get as alice: %q %v", out, err)
	}
	expect("Authentication Disabled\n", root, "auth", "disable")
	expect("OK\n", "put", "other", "1")
}

// curlBasic GETs url with Basic credentials.
func curlBasic(url, userpass string) (string, int, error) {
	user, pass, _ := strings.Cut(userpass, ":")
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return "", 0, err
	}
	req.SetBasicAuth(user, pass)
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}
