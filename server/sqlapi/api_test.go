package sqlapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/concord-db/concord/server/sqlapi"
	"github.com/concord-db/concord/server/sqlapi/sqlapitest"
)

type testAPI struct {
	t   *testing.T
	url string
	db  *sqlapitest.DB
}

func newTestAPI(t *testing.T, maxRequestBytes int64) *testAPI {
	t.Helper()
	srv := sqlapitest.Start(t, maxRequestBytes)
	return &testAPI{t: t, url: srv.URL, db: srv.DB}
}

// errorBody is rqlite's error answer.
type errorBody struct {
	Error string `json:"error"`
}

// post sends body to path and returns the status and raw body.
func (a *testAPI) post(path, body string) (int, string) {
	a.t.Helper()
	resp, err := http.Post(a.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (a *testAPI) get(path string) (int, string) {
	a.t.Helper()
	resp, err := http.Get(a.url + path)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// mustPost expects 200 and the exact body.
func (a *testAPI) mustPost(path, body, want string) {
	a.t.Helper()
	status, got := a.post(path, body)
	if status != http.StatusOK || got != want+"\n" {
		a.t.Fatalf("POST %s %s:\n got %d %s\nwant 200 %s", path, body, status, got, want)
	}
}

func TestStatementsRoundTripTypesExactly(t *testing.T) {
	a := newTestAPI(t, 0)
	a.mustPost("/db/execute", `["CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, f REAL, s TEXT, b BLOB)"]`, `{"results":[{}]}`)
	a.mustPost("/db/execute",
		`[["INSERT INTO t(n, f, s, b) VALUES(?, ?, ?, ?)", 9007199254740993, 1.5, "héllo \"q\"", [0, 1, 255]],
		  ["INSERT INTO t(n, f, s, b) VALUES(:n, :f, :s, :b)", {"n": -9223372036854775808, "f": 2, "s": null, "b": null}],
		  "INSERT INTO t(n) VALUES(9223372036854775807)"]`,
		`{"results":[{"last_insert_id":1,"rows_affected":1},{"last_insert_id":2,"rows_affected":1},{"last_insert_id":3,"rows_affected":1}]}`)
	wantRows := `{"results":[{"columns":["id","n","f","s","b"],"types":["integer","integer","real","text","blob"],"values":[` +
		`[1,9007199254740993,1.5,"héllo \"q\"","AAH/"],[2,-9223372036854775808,2,null,null],[3,9223372036854775807,null,null,null]]}]}`
	a.mustPost("/db/query", `["SELECT * FROM t ORDER BY id"]`, wantRows)
	// The integer 2 bound to the REAL column f is stored as 2.0, which JSON writes as 2.
	a.mustPost("/db/query", `[["SELECT f FROM t WHERE id = ?", 2]]`, `{"results":[{"columns":["f"],"types":["real"],"values":[[2]]}]}`)

	status, got := a.get("/db/query?q=" + url.QueryEscape("SELECT b FROM t WHERE id = 1") + "&blob_array")
	if want := `{"results":[{"columns":["b"],"types":["blob"],"values":[[[0,1,255]]]}]}` + "\n"; status != 200 || got != want {
		t.Fatalf("blob_array: got %d %s, want %s", status, got, want)
	}
	a.mustPost("/db/query?associative", `["SELECT id, s FROM t WHERE id < 3 ORDER BY id", "SELECT id FROM t WHERE id > 99"]`,
		`{"results":[{"types":{"id":"integer","s":"text"},"rows":[{"id":1,"s":"héllo \"q\""},{"id":2,"s":null}]},{"types":{"id":"integer"},"rows":[]}]}`)
	// No rows: rqlite leaves "values" out.
	a.mustPost("/db/query", `["SELECT id FROM t WHERE id > 99"]`, `{"results":[{"columns":["id"],"types":["integer"]}]}`)
}

func TestMixedRequestErrorsAndTransactions(t *testing.T) {
	a := newTestAPI(t, 0)
	a.mustPost("/db/execute", `["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"]`, `{"results":[{}]}`)
	// Without ?transaction a failed statement does not stop the next.
	a.mustPost("/db/execute", `[["INSERT INTO t(v) VALUES(?)", "a"], "INSERT INTO nosuch VALUES(1)", ["INSERT INTO t(v) VALUES(?)", "b"]]`,
		`{"results":[{"last_insert_id":1,"rows_affected":1},{"error":"no such table: nosuch"},{"last_insert_id":2,"rows_affected":1}]}`)
	// With it, the first error undoes the request.
	a.mustPost("/db/execute?transaction", `[["INSERT INTO t(v) VALUES(?)", "c"], ["INSERT INTO t(v) VALUES(?)", "a"]]`,
		`{"results":[{"last_insert_id":3,"rows_affected":1},{"error":"UNIQUE constraint failed: t.v"}]}`)
	// SQLite keeps the rolled-back insert's rowid as last_insert_rowid, and rqlite reports it.
	a.mustPost("/db/request", `["SELECT count(*) AS n FROM t", ["UPDATE t SET v = ? WHERE id = ?", "z", 2]]`,
		`{"results":[{"columns":["n"],"types":[""],"values":[[2]]},{"rows_affected":1}]}`)
	// A write sent to /db/query fails in its result and changes nothing.
	a.mustPost("/db/query", `["DELETE FROM t"]`, `{"results":[{"error":"attempt to change database via query operation"}]}`)
	a.mustPost("/db/query", `["SELECT count(*) FROM t"]`, `{"results":[{"columns":["count(*)"],"types":[""],"values":[[2]]}]}`)
	a.mustPost("/db/query", `["SELEC 1"]`, `{"results":[{"error":"near \"SELEC\": syntax error"}]}`)
}

func TestTimingsAndPretty(t *testing.T) {
	a := newTestAPI(t, 0)
	status, body := a.post("/db/query?timings&pretty", `["SELECT 1 AS one"]`)
	if status != http.StatusOK || !strings.Contains(body, "\n    \"results\": [") {
		t.Fatalf("pretty: got %d %s", status, body)
	}
	var resp struct {
		Results []struct {
			Time *float64 `json:"time"`
		} `json:"results"`
		Time *float64 `json:"time"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Time == nil || len(resp.Results) != 1 || resp.Results[0].Time == nil || *resp.Time < 0 {
		t.Fatalf("timings: want a total and a per-result time, got %s", body)
	}
}

// TestBadInputIsRefusedAndChangesNothing: every malformed request gets a
// 4xx with rqlite's {"error": ...} body, and the table stays as it was.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	a := newTestAPI(t, 4096)
	a.mustPost("/db/execute", `["CREATE TABLE t (v)"]`, `{"results":[{}]}`)
	ins := `"INSERT INTO t VALUES(1)"`
	many := "[" + strings.Repeat(ins+",", sqlapi.MaxStatements) + ins + "]"
	cases := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"malformed JSON", "/db/execute", `["INSERT INTO t VALUES(1)"`, 400, "invalid JSON"},
		{"not an array", "/db/execute", `{"sql": "INSERT INTO t VALUES(1)"}`, 400, "invalid JSON"},
		{"empty body", "/db/execute", ``, 400, "empty"},
		{"no statements", "/db/execute", `[]`, 400, "no statements"},
		{"trailing data", "/db/execute", `[` + ins + `] []`, 400, "after the JSON array"},
		{"empty SQL", "/db/execute", `[` + ins + `, "  "]`, 400, "statement 1: empty SQL"},
		{"SQL not first", "/db/execute", `[[1, "INSERT INTO t VALUES(?)"]]`, 400, "first element"},
		{"object parameter", "/db/execute", `[["INSERT INTO t VALUES(?)", 1, {"a": 1}]]`, 400, "parameter 2"},
		{"bad blob", "/db/execute", `[["INSERT INTO t VALUES(?)", [1, 256]]]`, 400, "byte value"},
		{"number overflow", "/db/execute", `[["INSERT INTO t VALUES(?)", 1e999]]`, 400, "out of range"},
		{"unknown flag", "/db/execute?frobnicate", `[` + ins + `]`, 400, `unknown query parameter "frobnicate"`},
		{"queue", "/db/execute?queue", `[` + ins + `]`, 400, "queued writes"},
		{"bad bool", "/db/execute?transaction=maybe", `[` + ins + `]`, 400, "not a boolean"},
		{"bad level", "/db/query?level=eventual", `["SELECT 1"]`, 400, "unknown consistency level"},
		{"bad freshness", "/db/query?level=none&freshness=stale", `["SELECT 1"]`, 400, "not a duration"},
		{"bad timeout", "/db/execute?timeout=soon", `[` + ins + `]`, 400, "not a duration"},
		{"q on POST", "/db/execute?q=x", `[` + ins + `]`, 400, "?q= is for GET"},
		{"too large", "/db/execute", `["` + strings.Repeat(" ", 5000) + `INSERT INTO t VALUES(1)"]`, 413, "limit of 4096 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := a.post(c.path, c.body)
			var e errorBody
			if err := json.Unmarshal([]byte(body), &e); err != nil || status != c.status || !strings.Contains(e.Error, c.msg) {
				t.Fatalf("got %d %s, want %d with %q", status, body, c.status, c.msg)
			}
		})
	}
	t.Run("too many statements", func(t *testing.T) {
		big := newTestAPI(t, int64(len(many)+1))
		big.mustPost("/db/execute", `["CREATE TABLE t (v)"]`, `{"results":[{}]}`)
		status, body := big.post("/db/execute", many)
		if status != 413 || !strings.Contains(body, "more than the limit") {
			t.Fatalf("got %d %s", status, body)
		}
		big.mustPost("/db/query", `["SELECT count(*) AS n FROM t"]`, `{"results":[{"columns":["n"],"types":[""],"values":[[0]]}]}`)
	})
	status, body := a.get("/db/query")
	if status != 400 || !strings.Contains(body, "?q=") {
		t.Fatalf("GET without q: %d %s", status, body)
	}
	a.mustPost("/db/query", `["SELECT count(*) AS n FROM t"]`, `{"results":[{"columns":["n"],"types":[""],"values":[[0]]}]}`)
}

func TestStatusAndNodesForDiscovery(t *testing.T) {
	a := newTestAPI(t, 0)
	status, body := a.get("/status")
	if want := `{"store":{"node_id":"m1","leader":{"node_id":"m1","addr":"127.0.0.1:1"}}}` + "\n"; status != 200 || body != want {
		t.Fatalf("/status: got %d %s want %s", status, body, want)
	}
	status, body = a.get("/nodes")
	want := `{"m1":{"id":"m1","api_addr":"` + a.url + `","addr":"127.0.0.1:1","voter":true,"reachable":true,"leader":true}}` + "\n"
	if status != 200 || body != want {
		t.Fatalf("/nodes: got %d %s want %s", status, body, want)
	}
	status, body = a.get("/nodes?ver=2")
	if status != 200 || !strings.HasPrefix(body, `{"nodes":[{"id":"m1"`) {
		t.Fatalf("/nodes?ver=2: got %d %s", status, body)
	}
}

func TestBackupAndLoad(t *testing.T) {
	a := newTestAPI(t, 0)
	a.mustPost("/db/execute", `["CREATE TABLE t (v)", "INSERT INTO t VALUES('kept')"]`, `{"results":[{},{"last_insert_id":1,"rows_affected":1}]}`)
	status, backup := a.get("/db/backup")
	if status != 200 || !strings.HasPrefix(backup, "SQLite format 3\x00") {
		t.Fatalf("backup: %d, %d bytes starting %q", status, len(backup), backup[:min(16, len(backup))])
	}
	a.mustPost("/db/execute", `["DELETE FROM t"]`, `{"results":[{"rows_affected":1}]}`)
	status, body := a.post("/db/load", backup)
	if status != 200 || body != `{"results":[]}`+"\n" {
		t.Fatalf("load: %d %s", status, body)
	}
	a.mustPost("/db/query", `["SELECT v FROM t"]`, `{"results":[{"columns":["v"],"types":[""],"values":[["kept"]]}]}`)

	// A failure found before the first byte is still a proper error answer.
	status, body = a.get("/db/backup?fmt=sql")
	if status != 500 || !strings.Contains(body, `"error":"sqlapitest: dump is not supported"`) {
		t.Fatalf("dump: %d %s", status, body)
	}
	for path, msg := range map[string]string{"/db/backup?fmt=xml": "not sql or binary", "/db/backup?compress": "unknown query parameter"} {
		status, body := a.get(path)
		if status != 400 || !strings.Contains(body, msg) {
			t.Fatalf("%s: %d %s", path, status, body)
		}
	}
}
