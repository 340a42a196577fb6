package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestClientUserFlag runs concord's REST-based client commands (sql,
// resource, status, members, snapshot save and restore) against the real
// binary with auth on: with --user name:password (etcdctl's form) or
// CONCORD_USER they are served as that user, with what that user may do;
// without credentials, or with a wrong password, they fail with the
// server's error. A restored archive brings back a user deleted since.
func TestClientUserFlag(t *testing.T) {
	t.Parallel()
	a := newAgent(t, "n1")
	a.start(append(a.nodeArgs(), "--bootstrap", "--bcrypt-cost", "4")...)
	waitReady(t, a)
	waitOneLeader(t, a)
	eps := "--endpoints=" + a.clientAddr
	root := []string{eps, "--user", "root:rootpw"}
	cli := func(env []string, args ...string) (string, error) {
		return runCmd(t, env, binary, args...)
	}
	must := func(env []string, args ...string) string {
		t.Helper()
		out, err := cli(env, args...)
		if err != nil {
			t.Fatalf("concord %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	refused := func(want string, env []string, args ...string) {
		t.Helper()
		out, err := cli(env, args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("concord %s: %q %v; want an error with %q", strings.Join(args, " "), out, err, want)
		}
	}
	// Before auth is on, --user is harmless: the server says auth is not
	// enabled and the command goes on without credentials.
	must(nil, "sql", eps, "--user", "root:rootpw", "-e", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")

	must(nil, "user", "add", "root:rootpw", eps)
	must(nil, "role", "add", "root", eps)
	must(nil, "user", "grant-role", "root", "root", eps)
	must(nil, "auth", "enable", eps)
	must(nil, append([]string{"role", "add", "app"}, root...)...)
	must(nil, append([]string{"role", "grant-permission", "app", "readwrite", "main", "--namespace", "sql"}, root...)...)
	must(nil, append([]string{"role", "grant-permission", "app", "readwrite", "demo/", "--prefix", "--namespace", "resource"}, root...)...)
	must(nil, append([]string{"user", "add", "alice:alicepw"}, root...)...)
	must(nil, append([]string{"user", "grant-role", "alice", "app"}, root...)...)
	must(nil, append([]string{"user", "add", "bob:bobpw"}, root...)...)

	// SQL.
	must(nil, "sql", eps, "--user", "alice:alicepw", "-e", "INSERT INTO t(v) VALUES('a')")
	if out := must([]string{"CONCORD_USER=alice:alicepw"}, "sql", eps, "--mode", "csv", "-e", "SELECT v FROM t"); !strings.Contains(out, "a") {
		t.Fatalf("sql select as alice (CONCORD_USER): %q", out)
	}
	if out := must([]string{"CONCORD_USER=alice", "CONCORD_PASSWORD=alicepw"}, "sql", eps, "--mode", "csv", "-e", "SELECT count(*) FROM t"); !strings.Contains(out, "1") {
		t.Fatalf("sql as alice (CONCORD_USER and CONCORD_PASSWORD): %q", out)
	}
	refused("permission denied (HTTP 403", nil, "sql", eps, "--user", "bob:bobpw", "-e", "SELECT v FROM t")
	refused("HTTP 401", nil, "sql", eps, "-e", "SELECT v FROM t")
	refused("authentication failed", nil, "sql", eps, "--user", "alice:wrong", "-e", "SELECT v FROM t")

	// Resources.
	artist := `{"id": {"type": {"group": "demo", "groupVersion": "v2", "kind": "Artist"}, "name": "korn"}, "data": {"name": "Korn"}}`
	dir := t.TempDir()
	file := dir + "/korn.json"
	writeFile(t, file, artist)
	must(nil, "resource", "apply", "-f", file, eps, "--user", "alice:alicepw")
	if out := must([]string{"CONCORD_USER=alice:alicepw"}, "resource", "read", "demo.v2.Artist", "korn", eps); !strings.Contains(out, "korn") {
		t.Fatalf("resource read as alice: %q", out)
	}
	if out := must(nil, "resource", "list", "demo.v2.Artist", eps, "--user", "alice:alicepw"); !strings.Contains(out, "korn") {
		t.Fatalf("resource list as alice: %q", out)
	}
	refused("permission_denied", nil, "resource", "read", "demo.v2.Artist", "korn", eps, "--user", "bob:bobpw")
	refused("unauthenticated", nil, "resource", "list", "demo.v2.Artist", eps)
	must(nil, "resource", "delete", "demo.v2.Artist", "korn", eps, "--user", "alice:alicepw")

	// Cluster commands: any user reads status and members; only root saves
	// a snapshot.
	if out := must(nil, "status", eps, "--user", "bob:bobpw"); !strings.Contains(out, "n1") {
		t.Fatalf("status as bob: %q", out)
	}
	refused("unauthenticated", nil, "status", eps)
	if out := must(nil, "members", eps, "--user", "bob:bobpw"); !strings.Contains(out, "n1") {
		t.Fatalf("members as bob: %q", out)
	}
	must(nil, "snapshot", "save", dir+"/root.snap", eps, "--user", "root:rootpw")
	refused("permission_denied", nil, "snapshot", "save", dir+"/bob.snap", eps, "--user", "bob:bobpw")

	// The archive carries the auth state: `concord snapshot restore`
	// (root only) brings back a user deleted since.
	must(nil, append([]string{"user", "delete", "bob"}, root...)...)
	refused("authentication failed", nil, "status", eps, "--user", "bob:bobpw")
	refused("permission_denied", nil, "snapshot", "restore", "--yes", dir+"/root.snap", eps, "--user", "alice:alicepw")
	must(nil, "snapshot", "restore", "--yes", dir+"/root.snap", eps, "--user", "root:rootpw")
	waitFor(t, 20*time.Second, "bob back after the restore", func() error {
		_, err := cli(nil, "status", eps, "--user", "bob:bobpw")
		return err
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
