// Package sqlapitest serves server/sqlapi over one real, unreplicated
// in-memory SQLite database, for the tests of the API and of its clients
// (concord sql): real SQL (types, parameters, SQLite's own errors) without
// a cluster. The replicated database is tested through the same API by the
// agent's tests.
package sqlapitest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/server/sqlapi"
	"github.com/ncruces/go-sqlite3"
)

// DB is a sqlapi.DB on one in-memory SQLite database. Backup and Load
// copy SQLite files (Load also runs SQL text); Dump answers
// ErrNotSupported.
type DB struct {
	mu   sync.Mutex
	conn *sqlite3.Conn
	// lastOpts are the options of the latest Query or Request, to check
	// how the flags were mapped.
	lastOpts sqlapi.QueryOptions
}

// ErrNotSupported is the answer of Dump.
var ErrNotSupported = errors.New("sqlapitest: dump is not supported")

// Server is the API on a DB, served on a loopback port.
type Server struct {
	URL  string // http://127.0.0.1:port (https:// with StartTLS)
	Addr string // 127.0.0.1:port
	DB   *DB
}

// Start serves the API over a fresh database until the test ends.
// maxRequestBytes is sqlapi.Config's (0: its default).
func Start(t testing.TB, maxRequestBytes int64) *Server {
	t.Helper()
	return start(t, maxRequestBytes, nil)
}

// StartTLS is Start over TLS with cfg (its certificate and, for client
// certificate checks, ClientAuth and ClientCAs); URL is then https://.
func StartTLS(t testing.TB, cfg *tls.Config) *Server {
	t.Helper()
	return start(t, 0, cfg)
}

func start(t testing.TB, maxRequestBytes int64, tlsCfg *tls.Config) *Server {
	t.Helper()
	conn, err := sqlite3.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	db := &DB{conn: conn}
	cluster := &staticCluster{}
	api, err := sqlapi.New(sqlapi.Config{DB: db, Cluster: cluster, MaxRequestBytes: maxRequestBytes})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for pattern, h := range api.Routes() {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewUnstartedServer(mux)
	if tlsCfg != nil {
		srv.TLS = tlsCfg
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	_, cluster.addr, _ = strings.Cut(srv.URL, "://")
	return &Server{URL: srv.URL, Addr: cluster.addr, DB: db}
}

func (d *DB) Execute(ctx context.Context, req sqlapi.Request) ([]sqlapi.Result, error) {
	return d.run(req, false)
}

func (d *DB) Query(ctx context.Context, req sqlapi.Request, opts sqlapi.QueryOptions) ([]sqlapi.Result, error) {
	d.setOpts(opts)
	return d.run(req, true)
}

func (d *DB) Request(ctx context.Context, req sqlapi.Request, opts sqlapi.QueryOptions) ([]sqlapi.Result, error) {
	d.setOpts(opts)
	return d.run(req, false)
}

func (d *DB) setOpts(opts sqlapi.QueryOptions) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastOpts = opts
}

// LastOptions are the options of the latest Query or Request.
func (d *DB) LastOptions() sqlapi.QueryOptions {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastOpts
}

// Backup copies the database into a temporary SQLite file and streams it.
func (d *DB) Backup(_ context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "sqlapitest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "backup.db")
	d.mu.Lock()
	err = d.conn.Backup("main", path)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func (d *DB) Dump(context.Context, io.Writer) error { return ErrNotSupported }

// Load replaces the database with a SQLite file, or runs SQL text.
func (d *DB) Load(_ context.Context, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !bytes.HasPrefix(data, []byte("SQLite format 3\x00")) {
		return d.conn.Exec(string(data))
	}
	dir, err := os.MkdirTemp("", "sqlapitest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "load.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	return d.conn.Restore("main", path)
}

// run applies rqlite's rules: in a transaction the first error rolls
// back all and ends the request; without one every statement runs.
func (d *DB) run(req sqlapi.Request, readOnly bool) ([]sqlapi.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// last_insert_rowid() starts from zero in every request, as in
	// concord's replicated store (where it must not depend on a member's
	// history).
	d.conn.SetLastInsertRowID(0)
	if req.Transaction {
		if err := d.conn.Exec("BEGIN"); err != nil {
			return nil, err
		}
	}
	var results []sqlapi.Result
	for _, s := range req.Statements {
		r := d.one(s, readOnly)
		results = append(results, r)
		if r.Error != "" && req.Transaction {
			return results, d.conn.Exec("ROLLBACK")
		}
	}
	if req.Transaction {
		return results, d.conn.Exec("COMMIT")
	}
	return results, nil
}

func (d *DB) one(s sqlapi.Statement, readOnly bool) sqlapi.Result {
	stmt, _, err := d.conn.Prepare(s.SQL)
	if err != nil {
		return sqlapi.Result{Error: sqliteMessage(err)}
	}
	defer stmt.Close()
	if readOnly && !stmt.ReadOnly() {
		return sqlapi.Result{Error: "attempt to change database via query operation"}
	}
	if err := bind(stmt, s); err != nil {
		return sqlapi.Result{Error: err.Error()}
	}
	r := sqlapi.Result{ReadOnly: stmt.ReadOnly()}
	n := stmt.ColumnCount()
	for i := range n {
		r.Columns = append(r.Columns, stmt.ColumnName(i))
		r.Types = append(r.Types, strings.ToLower(stmt.ColumnDeclType(i)))
	}
	for stmt.Step() {
		row := make([]any, n)
		for i := range n {
			switch stmt.ColumnType(i) {
			case sqlite3.INTEGER:
				row[i] = stmt.ColumnInt64(i)
			case sqlite3.FLOAT:
				row[i] = stmt.ColumnFloat(i)
			case sqlite3.TEXT:
				row[i] = stmt.ColumnText(i)
			case sqlite3.BLOB:
				row[i] = stmt.ColumnBlob(i, nil)
			}
		}
		r.Rows = append(r.Rows, row)
	}
	if err := stmt.Err(); err != nil {
		return sqlapi.Result{Error: sqliteMessage(err)}
	}
	if !r.ReadOnly {
		r.LastInsertID, r.RowsAffected = d.conn.LastInsertRowID(), d.conn.Changes()
	}
	return r
}

func sqliteMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "sqlite3: ")
	if _, after, ok := strings.Cut(msg, ": "); ok {
		return after
	}
	return msg
}

func bind(stmt *sqlite3.Stmt, s sqlapi.Statement) error {
	if len(s.Positional) != 0 && stmt.BindCount() != len(s.Positional) {
		return errors.New("parameter count mismatch")
	}
	for i, v := range s.Positional {
		if err := bindOne(stmt, i+1, v); err != nil {
			return err
		}
	}
	for name, v := range s.Named {
		idx := 0
		for _, prefix := range []string{":", "@", "$"} {
			if idx = stmt.BindIndex(prefix + name); idx != 0 {
				break
			}
		}
		if idx == 0 {
			return errors.New("no parameter named " + name)
		}
		if err := bindOne(stmt, idx, v); err != nil {
			return err
		}
	}
	return nil
}

func bindOne(stmt *sqlite3.Stmt, i int, v any) error {
	switch v := v.(type) {
	case nil:
		return stmt.BindNull(i)
	case int64:
		return stmt.BindInt64(i, v)
	case float64:
		return stmt.BindFloat(i, v)
	case string:
		return stmt.BindText(i, v)
	case []byte:
		return stmt.BindBlob(i, v)
	}
	return errors.New("unsupported parameter type")
}

// staticCluster is one member that leads: the API's own server, with a
// made-up raft address.
type staticCluster struct{ addr string }

func (c *staticCluster) ID() string { return "m1" }

func (c *staticCluster) Leader() (string, string, error) { return "m1", "127.0.0.1:1", nil }

func (c *staticCluster) Members(context.Context) ([]node.Member, error) {
	return []node.Member{{ID: "m1", PeerAddr: "127.0.0.1:1", ClientAddr: c.addr, Voter: true, Leader: true, Reachable: true}}, nil
}
