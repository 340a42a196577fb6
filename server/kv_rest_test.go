package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/server"
)

// do sends a request and returns status and body.
func do(t *testing.T, method, url, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestRESTKV(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	base := "http://" + c.Agent(c.Follower()).ClientAddr()

	code, _, b := do(t, "PUT", base+"/v1/kv/app/a", "one")
	if code != 200 {
		t.Fatalf("put: %d %s", code, b)
	}
	put := decode[server.PutResult](t, b)

	code, h, b := do(t, "GET", base+"/v1/kv/app/a", "")
	if code != 200 || string(b) != "one" || h.Get("X-Concord-Mod-Revision") == "" {
		t.Fatalf("get: %d %q %v", code, b, h)
	}

	// CAS: create-only fails on an existing key, succeeds with the right revision.
	code, _, b = do(t, "PUT", base+"/v1/kv/app/a?prev_mod_revision=0", "two")
	if code != 409 || decode[server.ErrorBody](t, b).Code != server.CodeVersionMismatch {
		t.Fatalf("create-only on existing key: %d %s", code, b)
	}
	code, _, b = do(t, "PUT", base+"/v1/kv/app/a?prev_mod_revision="+itoa(put.Revision), "two")
	if code != 200 {
		t.Fatalf("cas put: %d %s", code, b)
	}
	do(t, "PUT", base+"/v1/kv/app/b", "\xff\xfe")

	code, _, b = do(t, "GET", base+"/v1/kv/app/?prefix&consistency=serializable", "")
	rng := decode[server.RangeResult](t, b)
	if code != 200 || rng.Count != 2 || *rng.KVs[0].Value != "two" || rng.KVs[1].ValueBase64 == nil {
		t.Fatalf("prefix get: %d %s", code, b)
	}

	code, _, b = do(t, "POST", base+"/v1/txn", `{"compare":[{"key":"app/a","target":"value","result":"=","value":"two"}],
		"success":[{"delete":{"key":"app/","prefix":true,"prev_kv":true}}],"failure":[{"get":{"key":"app/a"}}]}`)
	txn := decode[server.TxnResult](t, b)
	if code != 200 || !txn.Succeeded || txn.Responses[0].Delete.Deleted != 2 {
		t.Fatalf("txn: %d %s", code, b)
	}
	code, _, b = do(t, "GET", base+"/v1/kv/app/a", "")
	if code != 404 || decode[server.ErrorBody](t, b).Code != server.CodeKeyNotFound {
		t.Fatalf("get deleted: %d %s", code, b)
	}

	// Bad input: clear errors, nothing changed.
	for _, bad := range []struct{ method, path, body string }{
		{"POST", "/v1/txn", `{"compare":[],"bogus":1}`},
		{"POST", "/v1/txn", `{"success":[{"put":{"key":"x"},"get":{"key":"x"}}]}`},
		{"POST", "/v1/txn", `{"compare":[{"key":"x","target":"version","result":"~","version":1}]}`},
		{"GET", "/v1/kv/x?revision=abc", ""},
		{"GET", "/v1/kv/x?nonsense=1", ""},
		{"PUT", "/v1/kv/", "v"},
		{"GET", "/v1/kv/x?consistency=psychic", ""},
	} {
		code, _, b := do(t, bad.method, base+bad.path, bad.body)
		if code != 400 || decode[server.ErrorBody](t, b).Code != server.CodeBadRequest {
			t.Errorf("%s %s %s: %d %s", bad.method, bad.path, bad.body, code, b)
		}
	}
	code, _, b = do(t, "PUT", base+"/v1/kv/big", strings.Repeat("x", 2<<20))
	if code != 413 {
		t.Fatalf("oversized put: %d %s", code, b)
	}
	code, _, _ = do(t, "GET", base+"/v1/kv/big", "")
	if code != 404 {
		t.Fatalf("oversized put changed state: %d", code)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestRESTWatch(t *testing.T) {
	c := agenttest.Start(t, 1, agenttest.Options{})
	base := "http://" + c.Agent(0).ClientAddr()
	_, _, b := do(t, "PUT", base+"/v1/kv/w/1", "a")
	first := decode[server.PutResult](t, b).Revision
	do(t, "DELETE", base+"/v1/kv/w/1", "")

	resp, err := http.Get(base + "/v1/watch/w/?prefix&prev_kv&start_revision=" + itoa(first))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	next := func() server.WatchEvent {
		var ev server.WatchEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("watch stream: %v", err)
		}
		return ev
	}
	if ev := next(); !ev.Created {
		t.Fatalf("first line %+v", ev)
	}
	if ev := next(); ev.Type != "PUT" || *ev.KV.Value != "a" || ev.Revision != first {
		t.Fatalf("replayed put %+v", ev)
	}
	if ev := next(); ev.Type != "DELETE" || ev.PrevKV == nil || *ev.PrevKV.Value != "a" {
		t.Fatalf("replayed delete %+v", ev)
	}
	do(t, "PUT", base+"/v1/kv/w/2", "b")
	if ev := next(); ev.Type != "PUT" || ev.KV.Key != "w/2" || ev.Revision != first+2 {
		t.Fatalf("live put %+v", ev)
	}
}
