package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/server/resourceapi"
)

func TestResourceCommands(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	ep := "--endpoints=" + c.Endpoint(c.Follower())
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errs := run(t, stdin, append(args, ep)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s %s", args, code, out, errs)
		}
		return out
	}
	// A JSON file as `consul resource apply` writes them, and the same
	// resource type in YAML.
	jsonFile := file("korn.json", `{"id": {"type": {"group": "demo", "groupVersion": "v2", "kind": "Artist"}, "name": "korn",
		"tenancy": {"partition": "default", "namespace": "default"}}, "data": {"name": "Korn"}, "metadata": {"foo": "bar"}}`)
	out := ok("", "resource", "apply", "-f", jsonFile, "-o", "json")
	var korn map[string]any
	if err := json.Unmarshal([]byte(out), &korn); err != nil {
		t.Fatalf("apply -o json: %v\n%s", err, out)
	}
	id := korn["id"].(map[string]any)
	uid := id["uid"].(string)
	yamlFile := file("kiss.yaml", "id:\n  type: {group: demo, group_version: v2, kind: Artist}\n  name: kiss\nowner:\n  type: {group: demo, groupVersion: v2, kind: Artist}\n  tenancy: {partition: default, namespace: default}\n  name: korn\n  uid: "+uid+"\ndata:\n  name: Kiss\n")
	if out := ok("", "resource", "apply", "-f", yamlFile); !strings.Contains(out, "demo.v2.Artist  default    default    kiss") ||
		!strings.Contains(out, "demo.v2.Artist/default/default/korn/"+uid) {
		t.Fatalf("apply yaml table:\n%s", out)
	}
	ok(`{"id": {"type": {"group": "demo", "groupVersion": "v2", "kind": "Album"}, "name": "issues"}}`, "resource", "apply", "-f", "-")

	if out := ok("", "resource", "read", "demo.v2.Artist", "korn", "--consistent"); !strings.Contains(out, "korn") || !strings.Contains(out, uid) {
		t.Fatalf("read table:\n%s", out)
	}
	out = ok("", "resource", "read", "demo.v2.Artist", "korn", "-o", "json")
	if res, err := resourceapi.UnmarshalResource([]byte(out)); err != nil || res.Metadata["foo"] != "bar" {
		t.Fatalf("read json: %v\n%s", err, out)
	}
	if out := ok("", "resource", "list", "demo.v2.Artist", "--consistent"); strings.Count(out, "\n") != 3 {
		t.Fatalf("list:\n%s", out)
	}
	out = ok("", "resource", "list", "demo.v2.Artist", "--name-prefix", "ki", "-o", "json")
	if list, err := resourceapi.UnmarshalResources([]byte(out)); err != nil || len(list) != 1 || list[0].Id.Name != "kiss" {
		t.Fatalf("list prefix json: %v\n%s", err, out)
	}
	if out := ok("", "resource", "owned", "demo.v2.Artist/default/default/korn/"+uid, "--consistent"); !strings.Contains(out, "kiss") || strings.Count(out, "\n") != 2 {
		t.Fatalf("owned:\n%s", out)
	}
	out = ok("", "resource", "watch", "demo.v2.Artist", "--max-events", "3")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "upsert ") || !strings.HasPrefix(lines[1], "upsert ") ||
		!strings.HasPrefix(lines[2], "end_of_snapshot ") || !strings.Contains(out, " demo.v2.Artist/default/default/korn\n") {
		t.Fatalf("watch:\n%s", out)
	}

	// Exit codes scripts rely on.
	if code, _, errs := run(t, "", "resource", "read", "demo.v2.Artist", "nobody", ep); code != exitNotFound || !strings.Contains(errs, "not_found") {
		t.Fatalf("read missing: exit %d %s", code, errs)
	}
	if code, _, errs := run(t, "", "resource", "apply", "-f", jsonFile, "--version", "99999", ep); code != exitCompareFailed || !strings.Contains(errs, "cas_failure") {
		t.Fatalf("stale apply: exit %d %s", code, errs)
	}
	if code, _, errs := run(t, "", "resource", "delete", "demo.v2.Artist", "korn", "--version", "99999", ep); code != exitCompareFailed {
		t.Fatalf("stale delete: exit %d %s", code, errs)
	}
	for what, args := range map[string][]string{
		"bad type":      {"resource", "read", "demo.Artist", "korn"},
		"no file":       {"resource", "apply"},
		"missing file":  {"resource", "apply", "-f", filepath.Join(dir, "nope.yaml")},
		"unknown field": {"resource", "apply", "-f", file("bad.json", `{"id": {"name": "x"}, "colour": "red"}`)},
		"no id":         {"resource", "apply", "-f", file("noid.yaml", "data: {a: 1}\n")},
		"bad owner":     {"resource", "owned", "demo.v2.Artist/korn"},
		"bad output":    {"resource", "list", "demo.v2.Artist", "-o", "yaml"},
		"too many args": {"resource", "read", "demo.v2.Artist", "a", "b"},
	} {
		if code, _, _ := run(t, "", append(args, ep)...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", what, code, exitUsage)
		}
	}
	if code, _, errs := run(t, "", "resource", "apply", "-f", file("badname.json", `{"id": {"type": {"group": "demo", "groupVersion": "v2", "kind": "Artist"}, "name": "Bad"}}`), ep); code != exitFailure || !strings.Contains(errs, "resource.id.name") {
		t.Fatalf("bad name: exit %d %s", code, errs)
	}

	if out := ok("", "resource", "delete", "demo.v2.Artist", "korn"); out != "deleted demo.v2.Artist korn\n" {
		t.Fatalf("delete: %q", out)
	}
	if code, _, _ := run(t, "", "resource", "read", "demo.v2.Artist", "korn", "--consistent", ep); code != exitNotFound {
		t.Fatalf("read after delete: exit %d", code)
	}
}
