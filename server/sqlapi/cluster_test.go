package sqlapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
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
	c := agenttest.Start(t, 3, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.SQL.MaxResultBytes = 1 << 20
		cfg.SQL.MaxLoadBytes = 4 << 20
	}})
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
		a.must("/db/execute", fmt.Sprintf(`[["UPDATE t SET n = ? WHERE id = 2", %d]]`, i), `{"results":[{"rows_affected":1}]}`)
		b.must("/db/query?level=linearizable", `["SELECT n FROM t WHERE id = 2"]`, fmt.Sprintf(`{"results":[{"columns":["n"],"types":["integer"],"values":[[%d]]}]}`, i))
	}

	// A failed transaction changes nothing on any member.
	a.must("/db/execute?transaction", `["DELETE FROM t", "INSERT INTO nosuch VALUES(1)"]`,
		`{"results":[{"rows_affected":2},{"error":"no such table: nosuch"}]}`)
	for _, m := range append(followers, member{t, "http://" + c.Endpoint(leader)}) {
		m.must("/db/query?level=linearizable", `["SELECT count(*) AS n FROM t"]`, `{"results":[{"columns":["n"],"types":[""],"values":[[2]]}]}`)
	}

	// Large results: 20000 rows in requests of 1000 statements (the
	// default cap), read back whole.
	a.must("/db/execute", `["CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)"]`, `{"results":[{}]}`)
	for chunk := range 20 {
		var stmts []string
		for i := range 1000 {
			stmts = append(stmts, fmt.Sprintf(`["INSERT INTO big(v) VALUES(?)", "row-%d"]`, chunk*1000+i))
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
	// Past the result cap (1 MiB here) a query ends with a clear error,
	// on a follower as on the leader; smaller ones still work.
	a.must("/db/execute", `["CREATE TABLE blobs (b BLOB)", "INSERT INTO blobs SELECT randomblob(100000) FROM generate_series(1, 20)"]`,
		`{"results":[{},{"last_insert_id":20,"rows_affected":20}]}`)
	for _, m := range []member{b, {t, "http://" + c.Endpoint(leader)}} {
		status, body := m.do(http.MethodPost, "/db/query?level=linearizable", `["SELECT b FROM blobs"]`)
		if status != http.StatusBadRequest || !strings.Contains(body, "result too large") || !strings.Contains(body, "1048576") {
			t.Fatalf("%s: over the result cap: %d %.200s", m.base, status, body)
		}
	}
	b.must("/db/query?level=linearizable", `["SELECT count(*) AS n FROM blobs"]`, `{"results":[{"columns":["n"],"types":[""],"values":[[20]]}]}`)
	a.must("/db/execute", `["DROP TABLE blobs"]`, `{"results":[{}]}`)

	// Bad input through a follower: refused, nothing changed.
	for _, bad := range []struct{ path, body string }{
		{"/db/execute", `["DELETE FROM t"`},
		{"/db/execute?frob", `["DELETE FROM t"]`},
		{"/db/execute?queue", `["DELETE FROM t"]`},
		{"/db/execute", `[["DELETE FROM t WHERE id = ?", {"x": {}}]]`},
		{"/db/execute", "[" + strings.Repeat(`"DELETE FROM t",`, 1000) + `"DELETE FROM t"]`},
		{"/db/execute", `["DELETE FROM t", "ATTACH DATABASE 'x.db' AS x"]`},
		{"/db/execute", `["DELETE FROM t", "PRAGMA journal_mode=DELETE"]`},
		{"/db/execute", `["DELETE FROM t", "VACUUM"]`},
		{"/db/execute", `["DELETE FROM t", "SELECT load_extension('x')"]`},
		{"/db/execute", `["DELETE FROM t", "INSERT INTO t(n) VALUES(total_changes())"]`},
		{"/db/execute", `["DELETE FROM t", "PRAGMA foreign_keys=ON"]`},
		{"/db/request", `["DELETE FROM t", "BEGIN"]`},
		{"/db/query", `["ATTACH DATABASE '/etc/passwd' AS x"]`},
		{"/db/load", `DELETE FROM t; INSERT INTO nosuch VALUES(1);`},
		{"/db/load", "SQLite format 3\x00" + strings.Repeat("x", 200)},
	} {
		if status, body := a.do(http.MethodPost, bad.path, bad.body); status/100 != 4 || !strings.HasPrefix(body, `{"error":`) {
			t.Errorf("%s %.60s: got %d %s", bad.path, bad.body, status, body)
		}
	}
	status, body = a.do(http.MethodPost, "/db/execute", `["`+strings.Repeat(" ", 2<<20)+`DELETE FROM t"]`)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %.100s", status, body)
	}
	status, body = a.do(http.MethodPost, "/db/load", "CREATE TABLE x (v);\n"+strings.Repeat("INSERT INTO x VALUES ('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx');\n", 80000))
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "concord snapshot restore") {
		t.Errorf("oversized load: %d %.200s", status, body)
	}
	b.must("/db/query?level=linearizable", `["SELECT count(*) AS n FROM t"]`, `{"results":[{"columns":["n"],"types":[""],"values":[[2]]}]}`)

	// Backup through one follower, change, load through the other: every
	// member has the backed-up data again.
	status, backup := a.do(http.MethodGet, "/db/backup", "")
	if status != 200 || !strings.HasPrefix(backup, "SQLite format 3\x00") {
		t.Fatalf("backup: %d %.40q", status, backup)
	}
	a.must("/db/execute", `["DELETE FROM t"]`, `{"results":[{"rows_affected":2}]}`)
	if status, body := b.do(http.MethodPost, "/db/load", backup); status != 200 {
		t.Fatalf("load: %d %s", status, body)
	}
	for i := range c.Size() {
		m := member{t, "http://" + c.Endpoint(i)}
		m.must("/db/query?level=linearizable", `["SELECT count(*) AS n FROM t"]`, `{"results":[{"columns":["n"],"types":[""],"values":[[2]]}]}`)
	}

	// The SQL dump through one member loads through another, and leaves
	// every member with the same content (dumps compared byte for byte).
	status, dump := b.do(http.MethodGet, "/db/backup?fmt=sql", "")
	if status != 200 || !strings.Contains(dump, `INSERT INTO "t" VALUES(1,9007199254740993,0.1,'é"',X'00ff');`) {
		t.Fatalf("dump: %d %.300s", status, dump)
	}
	a.must("/db/execute", `["DROP TABLE big"]`, `{"results":[{}]}`)
	if status, body := a.do(http.MethodPost, "/db/load", dump); status != 200 {
		t.Fatalf("load dump: %d %s", status, body)
	}
	want = dumpHash(b)
	for i := range c.Size() {
		if got := dumpHash(member{t, "http://" + c.Endpoint(i)}); got != want {
			t.Fatalf("member %d's content differs after the load", i)
		}
	}
}

// waitDiscoverable waits until every member's /nodes lists every member's
// client address (they reach the log just after the members start).
func waitDiscoverable(c *agenttest.Cluster) {
	c.WaitFor(10*time.Second, "every member's client address in /nodes", func() bool {
		for i := range c.Size() {
			resp, err := http.Get("http://" + c.Endpoint(i) + "/nodes")
			if err != nil {
				return false
			}
			var nodes map[string]struct {
				APIAddr string `json:"api_addr"`
			}
			err = json.NewDecoder(resp.Body).Decode(&nodes)
			resp.Body.Close()
			if err != nil || len(nodes) != c.Size() {
				return false
			}
			for _, n := range nodes {
				if n.APIAddr == "" {
					return false
				}
			}
		}
		return true
	})
}

// dumpHash is the SHA-256 of a member's SQL dump (after its read
// barrier, of its own database), streamed.
func dumpHash(m member) string {
	m.t.Helper()
	resp, err := http.Get(m.base + "/db/backup?fmt=sql")
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil || resp.StatusCode != 200 {
		m.t.Fatalf("dump of %s: %d %v", m.base, resp.StatusCode, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestClusterGorqlite: gorqlite, unchanged, finds the leader through
// /status and /nodes of any member, and works through a follower alone.
func TestClusterGorqlite(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	leader, follower := c.Leader(), c.Follower()
	waitDiscoverable(c)
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

	// gorqlite's Write runs its statements as one transaction: a failure
	// rolls back the ones before it, on every member.
	if _, err := only.Write([]string{"INSERT INTO kv VALUES('b', 3)", "INSERT INTO kv VALUES('a', 4)"}); err == nil {
		t.Fatal("a transaction with a failing statement succeeded")
	}
	// Through the other follower, each level reads what the first one
	// just wrote (none after it catches up).
	var other int
	for i := range c.Size() {
		if i != leader && i != follower {
			other = i
		}
	}
	for li, level := range []string{"weak", "linearizable", "strong", "none"} {
		reader, err := gorqlite.Open("http://" + c.Endpoint(other) + "/?disableClusterDiscovery=true&level=" + level)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := reader.ConsistencyLevel(); got != level {
			t.Fatalf("gorqlite level %q, want %q", got, level)
		}
		for i := range 5 {
			val := int64(100*li + i)
			if _, err := only.WriteOneParameterized(gorqlite.ParameterizedStatement{Query: "UPDATE kv SET v = ? WHERE k = 'a'", Arguments: []any{val}}); err != nil {
				t.Fatal(err)
			}
			read := func() (int64, int64) {
				qr, err := reader.QueryOneParameterized(gorqlite.ParameterizedStatement{Query: "SELECT v, (SELECT count(*) FROM kv) FROM kv WHERE k = ?", Arguments: []any{"a"}})
				var v, n int64
				if err != nil || !qr.Next() || qr.Scan(&v, &n) != nil {
					t.Fatalf("level %v: read: %v", level, err)
				}
				return v, n
			}
			if level == "none" {
				c.WaitFor(10*time.Second, "level=none to catch up", func() bool { v, _ := read(); return v == val })
			} else if v, n := read(); v != val || n != 1 {
				t.Fatalf("level %v through a follower: v=%d rows=%d, want %d and 1", level, v, n, val)
			}
		}
		reader.Close()
	}

	// Types gorqlite carries exactly (its JSON numbers are float64, so
	// integers past 2^53 are checked over raw HTTP in TestClusterSemantics).
	if _, err := only.WriteParameterized([]gorqlite.ParameterizedStatement{
		{Query: "CREATE TABLE typed (i INTEGER, f REAL, s TEXT, n TEXT)"},
		{Query: "INSERT INTO typed VALUES(?, ?, ?, ?)", Arguments: []any{int64(1) << 52, 2.5, "naïve 'q'", nil}},
	}); err != nil {
		t.Fatal(err)
	}
	qr, err = conn.QueryOne("SELECT i, f, s, n FROM typed")
	var (
		i int64
		f float64
		s string
		n gorqlite.NullString
	)
	if err != nil || !qr.Next() || qr.Scan(&i, &f, &s, &n) != nil || i != 1<<52 || f != 2.5 || s != "naïve 'q'" || n.Valid {
		t.Fatalf("typed: %d %v %q %+v %v", i, f, s, n, err)
	}
}
