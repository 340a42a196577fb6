package bench

// The SQL workloads speak rqlite's HTTP API (POST /db/execute and
// /db/query on the client port), so the same workload measures concord's
// SQL face and rqlite. Each client has its own keep-alive HTTP connection
// to one endpoint (client i uses endpoint i mod len(endpoints)); the rest
// of a run (closed or open loop, warmup, progress, histograms, report) is
// the KV workloads' machinery.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// SQL workloads.
const (
	SQLInsert = "sql-insert" // one new row per request (INSERT, rowid chosen by SQLite)
	SQLTxn    = "sql-txn"    // TxnStatements upserts of random rows in one ?transaction request
	SQLQuery  = "sql-query"  // point query by primary key over the (preloaded) key space, at Level
)

// SQLLevels are the read consistency levels of rqlite's API, weakest
// first.
var SQLLevels = []string{"none", "weak", "linearizable", "strong"}

// SQL defaults.
const (
	DefaultSQLTable      = "bench"
	DefaultSQLLevel      = "linearizable"
	DefaultTxnStatements = 4
	// maxTxnStatements keeps a sql-txn request well under the API's
	// statement cap.
	maxTxnStatements = 1000
)

// isSQL reports whether the workload is one of the SQL workloads.
func isSQL(workload string) bool {
	return workload == SQLInsert || workload == SQLTxn || workload == SQLQuery
}

var sqlIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// SQLError is a failure the SQL API reported: a request it refused (an
// HTTP status other than 200, with its error text) or a statement that
// failed in an otherwise successful answer (Status 200).
type SQLError struct {
	Status int
	Msg    string
}

func (e *SQLError) Error() string {
	if e.Status == http.StatusOK {
		return "statement failed: " + e.Msg
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Msg)
}

// errRowMissing is a point query that found no row: the preload did not
// happen or the database lost a row.
var errRowMissing = errors.New("point query found no row")

// sqlResponse is the part of rqlite's response body the workloads read.
type sqlResponse struct {
	Results []sqlResult `json:"results"`
	Error   string      `json:"error"`
}

type sqlResult struct {
	Error        string              `json:"error"`
	LastInsertID int64               `json:"last_insert_id"`
	RowsAffected int64               `json:"rows_affected"`
	Values       [][]json.RawMessage `json:"values"`
}

// firstError is the first statement error of a response, or nil.
func (r *sqlResponse) firstError() error {
	for _, res := range r.Results {
		if res.Error != "" {
			return &SQLError{Status: http.StatusOK, Msg: res.Error}
		}
	}
	return nil
}

// sqlClient is one client's HTTP view of one member.
type sqlClient struct {
	http  *http.Client
	base  string // http://host:port
	token string // the bearer token of Security's user, if any
}

// post sends a JSON body to path (with its query string) and decodes the
// answer; a status other than 200 is an *SQLError.
func (c *sqlClient) post(ctx context.Context, path string, body []byte) (*sqlResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body) // read to the end: the connection is reused
	if err != nil {
		return nil, err
	}
	var out sqlResponse
	if jerr := json.Unmarshal(b, &out); jerr != nil || resp.StatusCode != http.StatusOK {
		msg := out.Error
		if msg == "" {
			msg = truncate(string(b))
		}
		if resp.StatusCode == http.StatusOK {
			return nil, fmt.Errorf("undecodable answer from %s: %v", c.base, jerr)
		}
		return nil, &SQLError{Status: resp.StatusCode, Msg: msg}
	}
	return &out, nil
}

// newSQLHTTPClient is the HTTP client every worker shares: one kept-alive
// connection per concurrent request, so one per client.
func newSQLHTTPClient(cfg Config) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Clients + 8,
		MaxIdleConnsPerHost: cfg.Clients + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     cfg.Security.TLS,
	}
	return &http.Client{Transport: tr}
}

// dialSQL gives every worker its endpoint and checks that each endpoint
// serves the SQL API.
func (r *runner) dialSQL(ctx context.Context) error {
	cfg := r.cfg
	r.sqlHTTP = newSQLHTTPClient(cfg)
	for i, ep := range cfg.Endpoints {
		if i < cfg.Clients {
			r.used = append(r.used, ep)
		}
		c := &sqlClient{http: r.sqlHTTP, base: cfg.Security.httpScheme() + ep}
		pctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
		if i == 0 { // one token for every worker: no password hash per request
			tok, err := cfg.Security.httpToken(pctx, r.sqlHTTP, c.base)
			if err != nil {
				cancel()
				return fmt.Errorf("endpoint %s: %w", ep, err)
			}
			r.sqlToken = tok
		}
		c.token = r.sqlToken
		resp, err := c.post(pctx, "/db/query?level=none", []byte(`[["SELECT 1"]]`))
		cancel()
		if err == nil {
			err = resp.firstError()
		}
		var se *SQLError
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			return fmt.Errorf("endpoint %s does not serve the SQL API (POST /db/query: HTTP 404)", ep)
		}
		if err != nil {
			return fmt.Errorf("endpoint %s does not answer a SQL query: %w", ep, err)
		}
	}
	r.queryPath = "/db/query?level=" + cfg.Level
	for i := range cfg.Clients {
		w := newWorker(cfg, i)
		w.sql = &sqlClient{http: r.sqlHTTP, base: cfg.Security.httpScheme() + endpointOfConn(cfg.Endpoints, i), token: r.sqlToken}
		w.sqlBody = sqlInsertBody(cfg.Table, w.val)
		r.workers = append(r.workers, w)
	}
	return nil
}

// sqlInsertBody is the request body of one sql-insert (the same for every
// request of a worker: its value does not change).
func sqlInsertBody(table string, val []byte) []byte {
	b, _ := json.Marshal([][]any{{"INSERT INTO " + table + "(v) VALUES(?)", string(val)}})
	return b
}

// setupSQL creates the table and, for sql-query, preloads the key space.
func (r *runner) setupSQL(ctx context.Context) error {
	cfg := r.cfg
	c := r.workers[0].sql
	sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	create, _ := json.Marshal([]string{"CREATE TABLE IF NOT EXISTS " + cfg.Table + " (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"})
	resp, err := c.post(sctx, "/db/execute", create)
	if err == nil {
		err = resp.firstError()
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", cfg.Table, err)
	}
	if cfg.Workload != SQLQuery || !cfg.Preload {
		return nil
	}
	if err := r.preloadSQL(ctx); err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	return nil
}

// preloadSQL writes rows 1..KeySpace unless they are all there.
func (r *runner) preloadSQL(ctx context.Context) error {
	cfg := r.cfg
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	count, _ := json.Marshal([][]any{{"SELECT COUNT(*) FROM " + cfg.Table + " WHERE id BETWEEN 1 AND ?", cfg.KeySpace}})
	resp, err := r.workers[0].sql.post(pctx, "/db/query?level=linearizable", count)
	cancel()
	if err == nil {
		err = resp.firstError()
	}
	if err != nil {
		return err
	}
	if n, ok := firstInt(resp); ok && n >= int64(cfg.KeySpace) {
		return nil
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "preloading %d rows...\n", cfg.KeySpace)
	}
	r.fillNext.Store(0)
	errc := make(chan error, len(r.workers))
	for _, w := range r.workers {
		go func() {
			for {
				octx, cancel := context.WithTimeout(ctx, cfg.Timeout)
				err := r.fillSQL(octx, w, min(cfg.Batch, 64))
				cancel()
				if err != nil {
					if errors.Is(err, errFillDone) {
						err = nil
					}
					errc <- err
					return
				}
			}
		}()
	}
	var errs []error
	for range r.workers {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

// fillSQL writes the next batch of rows in one multi-row statement.
func (r *runner) fillSQL(ctx context.Context, w *worker, batch int) error {
	n := int64(r.cfg.KeySpace)
	first := r.fillNext.Add(int64(batch)) - int64(batch)
	if first >= n {
		return errFillDone
	}
	last := min(first+int64(batch), n)
	stmt := []any{""}
	sql := []byte("INSERT OR REPLACE INTO " + r.cfg.Table + "(id, v) VALUES ")
	for i := first; i < last; i++ {
		if i > first {
			sql = append(sql, ',')
		}
		sql = append(sql, "(?, ?)"...)
		stmt = append(stmt, i+1, w.sval)
	}
	stmt[0] = string(sql)
	body, _ := json.Marshal([][]any{stmt})
	resp, err := w.sql.post(ctx, "/db/execute", body)
	if err != nil {
		return err
	}
	return resp.firstError()
}

func firstInt(resp *sqlResponse) (int64, bool) {
	if len(resp.Results) == 0 || len(resp.Results[0].Values) == 0 || len(resp.Results[0].Values[0]) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(resp.Results[0].Values[0][0]), 10, 64)
	return n, err == nil
}

// sqlOp sends one request of a SQL workload.
func (r *runner) sqlOp(ctx context.Context, w *worker) error {
	cfg := r.cfg
	switch cfg.Workload {
	case SQLInsert:
		resp, err := w.sql.post(ctx, "/db/execute", w.sqlBody)
		if err != nil {
			return err
		}
		if err := resp.firstError(); err != nil {
			return err
		}
		if len(resp.Results) != 1 || resp.Results[0].RowsAffected != 1 {
			return fmt.Errorf("insert answered %+v, want one row affected", resp.Results)
		}
		return nil
	case SQLTxn:
		resp, err := w.sql.post(ctx, "/db/execute?transaction", r.txnBody(w))
		if err != nil {
			return err
		}
		return resp.firstError()
	case SQLQuery:
		b := append(w.key[:0], `[["SELECT v FROM `+cfg.Table+` WHERE id = ?", `...)
		b = strconv.AppendInt(b, int64(1+w.rng.IntN(cfg.KeySpace)), 10)
		w.key = append(b, "]]"...)
		resp, err := w.sql.post(ctx, r.queryPath, w.key)
		if err != nil {
			return err
		}
		if err := resp.firstError(); err != nil {
			return err
		}
		if len(resp.Results) != 1 || len(resp.Results[0].Values) != 1 {
			return errRowMissing
		}
		return nil
	}
	panic("not a SQL workload: " + cfg.Workload)
}

// txnBody is one sql-txn request: TxnStatements upserts of random rows of
// the key space, all or nothing.
func (r *runner) txnBody(w *worker) []byte {
	cfg := r.cfg
	if w.sqlValue == nil {
		w.sqlValue, _ = json.Marshal(w.sval)
	}
	b := w.key[:0]
	b = append(b, '[')
	for i := range cfg.TxnStatements {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `["INSERT OR REPLACE INTO `+cfg.Table+`(id, v) VALUES(?, ?)", `...)
		b = strconv.AppendInt(b, int64(1+w.rng.IntN(cfg.KeySpace)), 10)
		b = append(b, ',')
		b = append(b, w.sqlValue...)
		b = append(b, ']')
	}
	b = append(b, ']')
	w.key = b
	return b
}
