package sqlapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/concord-db/concord/server/sqlapi/sqlapitest"
)

// txClient is raw HTTP to a StoreServer.
type txClient struct {
	t   *testing.T
	srv *sqlapitest.StoreServer
}

func (c txClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSuffix(string(b), "\n")
}

// must expects status 200 and exactly want.
func (c txClient) must(method, path, body, want string) {
	c.t.Helper()
	if status, got := c.do(method, path, body); status != http.StatusOK || got != want {
		c.t.Fatalf("%s %s %s:\n got %d %s\nwant 200 %s", method, path, body, status, got, want)
	}
}

// fails expects status and an error body containing text.
func (c txClient) fails(method, path, body string, status int, text string) {
	c.t.Helper()
	got, b := c.do(method, path, body)
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(b), &e); got != status || err != nil || !strings.Contains(e.Error, text) {
		c.t.Fatalf("%s %s %s:\n got %d %s\nwant %d with an error containing %q", method, path, body, got, b, status, text)
	}
}

func (c txClient) begin(query string) string {
	c.t.Helper()
	status, b := c.do(http.MethodPost, "/db/tx"+query, "")
	var r struct{ ID string }
	if err := json.Unmarshal([]byte(b), &r); status != http.StatusOK || err != nil || r.ID == "" {
		c.t.Fatalf("begin: %d %s", status, b)
	}
	return r.ID
}

func TestTxEndpointsReadOwnWritesAndCommit(t *testing.T) {
	c := txClient{t, sqlapitest.StartStore(t)}
	c.must("POST", "/db/execute", `["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB)"]`, `{"results":[{}]}`)
	id := c.begin("")
	c.must("POST", "/db/tx/"+id, `[["INSERT INTO t (v, b) VALUES (?, ?)", "a", [1, 2]], ["INSERT INTO t (v) VALUES (:v)", {"v": "b"}], "SELECT id, v, b FROM t ORDER BY id"]`,
		`{"results":[{"last_insert_id":1,"rows_affected":1},{"last_insert_id":2,"rows_affected":1},{"columns":["id","v","b"],"types":["integer","text","blob"],"values":[[1,"a","AQI="],[2,"b",null]]}]}`)
	c.must("POST", "/db/tx/"+id+"?blob_array&associative", `["SELECT b FROM t WHERE id = 1"]`, `{"results":[{"types":{"b":"blob"},"rows":[{"b":[1,2]}]}]}`)
	c.must("POST", "/db/query?level=none", `["SELECT count(*) FROM t"]`, `{"results":[{"columns":["count(*)"],"types":[""],"values":[[0]]}]}`)
	c.must("POST", "/db/tx/"+id+"/commit", "", `{}`)
	c.must("POST", "/db/query?level=none", `["SELECT count(*) FROM t"]`, `{"results":[{"columns":["count(*)"],"types":[""],"values":[[2]]}]}`)
	c.fails("POST", "/db/tx/"+id, `["SELECT 1"]`, http.StatusNotFound, "ended")
}

func TestTxEndpointsConflictRollbackAndBadInput(t *testing.T) {
	c := txClient{t, sqlapitest.StartStore(t)}
	c.must("POST", "/db/execute", `["CREATE TABLE c (n INTEGER)", "INSERT INTO c VALUES (0)"]`, `{"results":[{},{"last_insert_id":1,"rows_affected":1}]}`)

	a, b := c.begin(""), c.begin("")
	for _, id := range []string{a, b} {
		c.must("POST", "/db/tx/"+id, `["SELECT n FROM c", "UPDATE c SET n = 1"]`, `{"results":[{"columns":["n"],"types":["integer"],"values":[[0]]},{"rows_affected":1}]}`)
	}
	c.must("POST", "/db/tx/"+a+"/commit", "", `{}`)
	c.fails("POST", "/db/tx/"+b+"/commit", "", http.StatusConflict, "serialization failure")
	c.fails("POST", "/db/tx/"+b+"/commit", "", http.StatusNotFound, "unknown")

	// Bad input is refused and leaves the transaction as it was.
	id := c.begin("")
	c.must("POST", "/db/tx/"+id, `["UPDATE c SET n = 5"]`, `{"results":[{"rows_affected":1}]}`)
	c.fails("POST", "/db/tx/"+id+"?level=strong", `["SELECT 1"]`, http.StatusBadRequest, `"level" is not accepted`)
	c.fails("POST", "/db/tx/"+id+"?transaction", `["SELECT 1"]`, http.StatusBadRequest, `"transaction" is not accepted`)
	c.fails("POST", "/db/tx/"+id, `["SELECT 1"`, http.StatusBadRequest, "invalid JSON")
	// A statement SQLite rejects is its result's error, as in rqlite.
	c.must("POST", "/db/tx/"+id, `[["SELECT ?", {"no": 1}]]`, `{"results":[{"error":"sqlstore: parameters do not match statement: no placeholder named \"no\""}]}`)
	c.fails("POST", "/db/tx/"+id, `["ATTACH 'x' AS x"]`, http.StatusBadRequest, "not allowed")
	c.must("POST", "/db/tx/"+id, `["SELECT n FROM c"]`, `{"results":[{"columns":["n"],"types":["integer"],"values":[[5]]}]}`)
	c.must("DELETE", "/db/tx/"+id, "", `{}`)
	c.fails("POST", "/db/tx/"+id+"/commit", "", http.StatusNotFound, "unknown")
	c.must("POST", "/db/query", `["SELECT n FROM c"]`, `{"results":[{"columns":["n"],"types":["integer"],"values":[[1]]}]}`)

	// BEGIN and the first statements in one request.
	status, body := c.do("POST", "/db/tx", `["SELECT n FROM c"]`)
	var first struct {
		ID      string
		Results []struct{ Values [][]int }
	}
	if err := json.Unmarshal([]byte(body), &first); status != http.StatusOK || err != nil || first.ID == "" || len(first.Results) != 1 || first.Results[0].Values[0][0] != 1 {
		t.Fatalf("begin with statements: %d %s", status, body)
	}
	c.must("POST", "/db/tx/"+first.ID+"/commit", "", `{}`)
	_, pretty := c.do("POST", "/db/tx?pretty", `["SELECT 1"]`)
	if !strings.HasPrefix(pretty, "{\n    \"id\": \"") || !strings.Contains(pretty, "\n    \"results\": [") {
		t.Fatalf("pretty begin: %s", pretty)
	}
	c.fails("POST", "/db/tx", `["ATTACH 'x' AS x"]`, http.StatusBadRequest, "not allowed")
	c.fails("POST", "/db/tx", `[1]`, http.StatusBadRequest, "statement 0")

	c.fails("POST", "/db/tx/nonsense", `["SELECT 1"]`, http.StatusNotFound, "another member")
	c.fails("POST", "/db/tx?read_only=maybe", "", http.StatusBadRequest, "not a boolean")

	ro := c.begin("?read_only")
	c.must("POST", "/db/tx/"+ro, `["UPDATE c SET n = 9", "SELECT n FROM c"]`, `{"results":[{"error":"sqlstore: cannot write in a read-only transaction"},{"columns":["n"],"types":["integer"],"values":[[1]]}]}`)
	c.must("POST", "/db/tx/"+ro+"/commit", "", `{}`)
}

// TestTxEndpointsRestartLosesOpenTransactions: a member restart forgets
// its open transactions with a clear answer, and nothing of them is in
// the database.
func TestTxEndpointsRestartLosesOpenTransactions(t *testing.T) {
	srv := sqlapitest.StartStore(t)
	c := txClient{t, srv}
	c.must("POST", "/db/execute", `["CREATE TABLE t (v)"]`, `{"results":[{}]}`)
	id := c.begin("")
	c.must("POST", "/db/tx/"+id, `["INSERT INTO t VALUES (1)"]`, `{"results":[{"last_insert_id":1,"rows_affected":1}]}`)
	srv.Restart()
	c.fails("POST", "/db/tx/"+id+"/commit", "", http.StatusNotFound, "restarted")
	c.must("POST", "/db/query", `["SELECT count(*) FROM t"]`, `{"results":[{"columns":["count(*)"],"types":[""],"values":[[0]]}]}`)
}
