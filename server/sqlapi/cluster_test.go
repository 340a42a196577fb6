//go:build sqlstore

// Built with -tags sqlstore until the SQL face is wired into the agent
// (agent/face_sql.go); then drop the build line.

package sqlapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent/agenttest"
	"github.com/rqlite/gorqlite"
)

// member is raw HTTP to one member of a cluster.
type member struct {
	t    *testing.T
	base string
}

func (m member) do(method, path, body string) (int, string) {
	m.t.Helper()
	req, err := http.NewRequest(method, m.base+path, strings.NewReader(body))
	if err != nil {
		m.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		m.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (m member) must(path, body, want string) {
	m.t.Helper()
	status, got := m.do(http.MethodPost, path, body)
	if status != http.StatusOK || got != want+"\n" {
		m.t.Fatalf("%s POST %s %s:\n got %d %s\nwant 200 %s", m.base, path, body, status, got, want)
	}
}

// TestClusterSemantics runs the API's semantics through followers of a
// three-member cluster: every value type exactly, each level reading a
// write made through another member, transactions, large results, bad
// input that changes nothing, and backup/load through any member.
func TestClusterSemantics(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	leader := c.Leader()
	var followers []member
	for i := range c.Size() {
		if i != leader {
			followers = append(followers, member{t, "http://" + c.Endpoint(i)})
		}
	}
	a, b := followers[0], followers[1]

	a.must("/db/execute", `["CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, f REAL, s TEXT, bl BLOB)"]`, `{"results":[{}]}`)
	a.must("/db/execute", `[["INSERT INTO t(n, f, s, bl) VALUES(?, ?, ?, ?)", 9007199254740993, 0.1, "é\"", [0, 255]], ["INSERT INTO t(n) VALUES(:n)", {"n": -9223372036854775808}]]`,
		`{"results":[{"last_insert_id":1,"rows_affected":1},{"last_insert_id":2,"rows_affected":1}]}`)
	want := `{"results":[{"columns":["id","n","f","s","bl"],"types":["integer","integer","real","text","blob"],"values":[[1,9007199254740993,0.1,"é\"","AP8="],[2,-9223372036854775808,null,null,null]]}]}`
	// A write through one follower is seen at once through the other at
	// every level but none, which may lag.
	for _, level := range []string{"weak", "linearizable", "strong"} {
		b.must("/db/query?level="+level, `["SELECT * FROM t ORDER BY id"]`, want)
	}
	c.WaitFor(10*time.Second, "level=none to catch up", func() bool {
		_, got := b.do(http.MethodPost, "/db/query?level=none", `["SELECT * FROM t ORDER BY id"]`)
		return got == want+"\n"
	})

	for i := range 20 {
		a.must("/db/execute", fmt.Sprintf(`[["UPDATE t SET n = ? WHERE id = 2", %d]]`, i), `{"results":[{"last_insert_id":2,"rows_affected":1}]}`)
		b.must("/db/query?level=linearizable", `["SELECT n FROM t WHERE id = 2"]`, fmt.Sprintf(`{"results":[{"columns":["n"],"types":["integer"],"values":[[%d]]}]}`, i))
	}

	// A failed transaction changes nothing on any member.
	a.must("/db/execute?transaction", `["DELETE FROM t", "INSERT INTO nosuch VALUES(1)"]`,
		`{"results":[{"last_insert_id":2,"rows_affected":2},{"error":"no such table: nosuch"}]}`)
	for _, m := range append(followers, member{t, "http://" + c.Endpoint(leader)}) {
		m.must("/db/query?level=linearizable", `["SELECT count(*) AS n FROM t"]`, `{"results":[{"columns":["n"],"types":["integer"],"values":[[2]]}]}`)
	}

	// Large results: 20000 rows in statements of 5000, read back whole.
	a.must("/db/execute", `["CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)"]`, `{"results":[{}]}`)
	for chunk := range 4 {
		var stmts []string
		for i := range 5000 {
			stmts = append(stmts, fmt.Sprintf(`["INSERT INTO big(v) VALUES(?)", "row-%d"]`, chunk*5000+i))
		}
		status, body := a.do(http.MethodPost, "/db/execute?transaction", "["+strings.Join(stmts, ",")+"]")
		if status != 200 || strings.Contains(body, "error") {
			t.Fatalf("big insert: %d %.200s", status, body)
		}
	}
	status, body := b.do(http.MethodGet, "/db/query?level=linearizable&q="+url.QueryEscape("SELECT id, v FROM big ORDER BY id"), "")
	var resp struct {
		Results []struct {
			Values [][]any `json:"values"`
		} `json:"results"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &resp) != nil || len(resp.Results) != 1 || len(resp.Results[0].Values) != 20000 ||
		resp.Results[0].Values[19999][1] != "row-19999" {
		t.Fatalf("big read: %d, %.300s", status, body)
	}

	// Bad input through a follower: refused, nothing changed.
	for _, bad := range []struct{ path, body string }{
		{"/db/execute", `["DELETE FROM t"`},
		{"/db/execute?frob", `["DELETE FROM t"]`},
		{"/db/execute?queue", `["DELETE FROM t"]`},
		{"/db/execute", `[["DELETE FROM t WHERE id = ?", {"x": {}}]]`},
		{"/db/execute", "[" + strings.Repeat(`"DELETE FROM t",`, 5001) + `"DELETE FROM t"]`},
	} {
		if status, body := a.do(http.MethodPost, bad.path, bad.body); status/100 != 4 || !strings.HasPrefix(body, `{"error":`) {
			t.Errorf("%s %.60s: got %d %s", bad.path, bad.body, status, body)
		}
	}
	status, body = a.do(http.MethodPost, "/db/execute", `["`+strings.Repeat(" ", 2<<20)+`DELETE FROM t"]`)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %.100s", status, body)
	}
	b.must("/db/query?level=linearizable", `["SELECT count(*) AS n FROM t"]`, `{"results":[{"columns":["n"],"types":["integer"],"values":[[2]]}]}`)

	// Backup through one follower, change, load through the other: every
	// member has the backed-up data again.
	status, backup := a.do(http.MethodGet, "/db/backup", "")
	if status != 200 || !strings.HasPrefix(backup, "SQLite format 3\x00") {
		t.Fatalf("backup: %d %.40q", status, backup)
	}
	a.must("/db/execute", `["DELETE FROM t"]`, `{"results":[{"last_insert_id":2,"rows_affected":2}]}`)
	if status, body := b.do(http.MethodPost, "/db/load", backup); status != 200 {
		t.Fatalf("load: %d %s", status, body)
	}
	for i := range c.Size() {
		m := member{t, "http://" + c.Endpoint(i)}
		m.must("/db/query?level=linearizable", `["SELECT count(*) AS n FROM t"]`, `{"results":[{"columns":["n"],"types":["integer"],"values":[[2]]}]}`)
	}
}

// TestClusterGorqlite: gorqlite, unchanged, finds the leader through
// /status and /nodes of any member, and works through a follower alone.
func TestClusterGorqlite(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	leader, follower := c.Leader(), c.Follower()
	conn, err := gorqlite.Open("http://" + c.Endpoint(follower) + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got, err := conn.Leader(); err != nil || got != c.Endpoint(leader) {
		t.Fatalf("leader: %q %v, want %s", got, err, c.Endpoint(leader))
	}
	peers, err := conn.Peers()
	if err != nil || len(peers) != 3 {
		t.Fatalf("peers: %v %v", peers, err)
	}

	only, err := gorqlite.Open("http://" + c.Endpoint(follower) + "/?disableClusterDiscovery=true&level=linearizable")
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	if _, err := only.WriteOne("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	wr, err := only.WriteOneParameterized(gorqlite.ParameterizedStatement{Query: "INSERT INTO kv VALUES(?, ?)", Arguments: []any{"a", 1}})
	if err != nil || wr.RowsAffected != 1 {
		t.Fatalf("insert: %+v %v", wr, err)
	}
	qr, err := conn.QueryOneParameterized(gorqlite.ParameterizedStatement{Query: "SELECT v FROM kv WHERE k = :k", Arguments: []any{map[string]any{"k": "a"}}})
	var v int64
	if err != nil || !qr.Next() || qr.Scan(&v) != nil || v != 1 {
		t.Fatalf("read: %d %v", v, err)
	}
	if _, err := only.WriteOne("INSERT INTO kv VALUES('a', 2)"); err == nil || !strings.Contains(err.Error(), "UNIQUE constraint failed") {
		t.Fatalf("duplicate: want SQLite's error, got %v", err)
	}
}
