package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/server"
)

// run runs the CLI in-process and returns exit code and outputs.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	code := executeCmd(root, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestKVCommands(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	ep := "--endpoints=" + strings.Join(c.Endpoints(), ",")
	ok := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errs := run(t, stdin, append(args, ep)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s %s", args, code, out, errs)
		}
		return out
	}
	if out := ok("", "kv", "put", "cfg/a", "1"); out != "OK\n" {
		t.Fatalf("put: %q", out)
	}
	ok("from stdin", "kv", "put", "cfg/b")
	if out := ok("", "kv", "get", "cfg/b"); out != "cfg/b\nfrom stdin\n" {
		t.Fatalf("get: %q", out)
	}
	if out := ok("", "kv", "get", "cfg/", "--prefix", "-o", "value"); out != "1\nfrom stdin\n" {
		t.Fatalf("get prefix values: %q", out)
	}
	var rr server.RangeResult
	if err := json.Unmarshal([]byte(ok("", "kv", "get", "cfg/", "--prefix", "-o", "json", "--consistency", "serializable")), &rr); err != nil || rr.Count != 2 {
		t.Fatalf("get json: %v %+v", err, rr)
	}
	if out := ok("", "kv", "get", "cfg/", "--prefix", "-o", "table"); !strings.Contains(out, "MOD_REV") || !strings.Contains(out, "cfg/a") {
		t.Fatalf("get table: %q", out)
	}

	// Exit codes scripts rely on.
	if code, _, _ := run(t, "", "kv", "get", "cfg/missing", ep); code != exitNotFound {
		t.Fatalf("get missing: exit %d, want %d", code, exitNotFound)
	}
	if code, _, errs := run(t, "", "kv", "put", "cfg/a", "2", "--prev-mod-revision=0", ep); code != exitCompareFailed || !strings.Contains(errs, "nothing written") {
		t.Fatalf("create-only on existing key: exit %d %s", code, errs)
	}
	if code, _, _ := run(t, "", "kv", "get", "k", "-o", "yaml", ep); code != exitUsage {
		t.Fatalf("bad output format: exit %d", code)
	}
	if out := ok("", "kv", "get", "cfg/a"); out != "cfg/a\n1\n" {
		t.Fatalf("failed CAS changed the key: %q", out)
	}

	// Txn in etcdctl's format, both branches.
	txn := "value(\"cfg/a\") = \"1\"\n\nput cfg/a \"two words\"\nget cfg/b\n\nput cfg/a never\n"
	if out := ok(txn, "kv", "txn"); !strings.HasPrefix(out, "SUCCESS\n") || !strings.Contains(out, "from stdin") {
		t.Fatalf("txn success: %q", out)
	}
	if code, out, _ := run(t, txn, "kv", "txn", ep); code != exitCompareFailed || !strings.HasPrefix(out, "FAILURE") {
		t.Fatalf("txn failure: exit %d %q", code, out)
	}
	if code, _, errs := run(t, "bogus(\"k\") = \"1\"\n\n\n", "kv", "txn", ep); code != exitUsage || !strings.Contains(errs, "target") {
		t.Fatalf("bad txn: exit %d %s", code, errs)
	}

	// Leases: grant, attach, ttl, list, revoke deletes the key.
	out := ok("", "kv", "lease", "grant", "60")
	var id string
	if _, err := fmt.Sscanf(out, "lease %s granted", &id); err != nil {
		t.Fatalf("grant output %q: %v", out, err)
	}
	ok("", "kv", "put", "cfg/leased", "x", "--lease", id)
	if out := ok("", "kv", "lease", "ttl", id, "--keys"); !strings.Contains(out, "cfg/leased") {
		t.Fatalf("ttl: %q", out)
	}
	if out := ok("", "kv", "lease", "list"); !strings.Contains(out, id) {
		t.Fatalf("list: %q", out)
	}
	ok("", "kv", "lease", "keepalive", id, "--once")
	ok("", "kv", "lease", "revoke", id)
	if code, _, _ := run(t, "", "kv", "get", "cfg/leased", ep); code != exitNotFound {
		t.Fatalf("leased key after revoke: exit %d", code)
	}
	if code, _, _ := run(t, "", "kv", "lease", "ttl", id, ep); code != exitNotFound {
		t.Fatalf("ttl of revoked lease: exit %d", code)
	}

	if out := ok("", "kv", "del", "cfg/", "--prefix"); out != "2\n" {
		t.Fatalf("del prefix: %q", out)
	}
	ok("", "kv", "compact", "3")
	if code, _, errs := run(t, "", "kv", "get", "cfg/a", "--rev", "2", ep); code != exitFailure || !strings.Contains(errs, "compacted") {
		t.Fatalf("read below compaction: exit %d %s", code, errs)
	}
}
