package sqlapi

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/concord-db/concord/node"
	"github.com/ncruces/go-sqlite3"
)

// localDB is a DB on one real, unreplicated in-memory SQLite database: the
// HTTP layer's tests run real SQL (types, parameters, SQLite's errors)
// without a cluster. The replicated DB (sqlstore) is tested through this
// API by the agent's tests.
type localDB struct {
	mu   sync.Mutex
	conn *sqlite3.Conn
	// lastOpts are the options of the latest Query or Request, to check
	// how the flags were mapped.
	lastOpts QueryOptions
}

func newLocalDB(t *testing.T) *localDB {
	t.Helper()
	conn, err := sqlite3.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &localDB{conn: conn}
}

func (d *localDB) Execute(ctx context.Context, req Request) ([]Result, error) {
	return d.run(req, false)
}

func (d *localDB) Query(ctx context.Context, req Request, opts QueryOptions) ([]Result, error) {
	d.setOpts(opts)
	return d.run(req, true)
}

func (d *localDB) Request(ctx context.Context, req Request, opts QueryOptions) ([]Result, error) {
	d.setOpts(opts)
	return d.run(req, false)
}

func (d *localDB) setOpts(opts QueryOptions) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastOpts = opts
}

func (d *localDB) opts() QueryOptions {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastOpts
}

func (d *localDB) Backup(ctx context.Context, w io.Writer) error {
	return errors.New("localDB: no backup")
}

func (d *localDB) Dump(ctx context.Context, w io.Writer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := io.WriteString(w, "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCOMMIT;\n")
	return err
}

func (d *localDB) Load(ctx context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// run applies rqlite's rules: in a transaction the first error rolls
// back all and ends the request; without one every statement runs.
func (d *localDB) run(req Request, readOnly bool) ([]Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if req.Transaction {
		if err := d.conn.Exec("BEGIN"); err != nil {
			return nil, err
		}
	}
	var results []Result
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

func (d *localDB) one(s Statement, readOnly bool) Result {
	stmt, _, err := d.conn.Prepare(s.SQL)
	if err != nil {
		return Result{Error: sqliteMessage(err)}
	}
	defer stmt.Close()
	if readOnly && !stmt.ReadOnly() {
		return Result{Error: "attempt to change database via query operation"}
	}
	if err := bind(stmt, s); err != nil {
		return Result{Error: err.Error()}
	}
	r := Result{ReadOnly: stmt.ReadOnly()}
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
		return Result{Error: sqliteMessage(err)}
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

func bind(stmt *sqlite3.Stmt, s Statement) error {
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

// staticCluster is one member that leads: the API's own server.
type staticCluster struct{ addr string }

func (c *staticCluster) ID() string { return "m1" }

func (c *staticCluster) Leader() (string, string, error) { return "m1", "127.0.0.1:1", nil }

func (c *staticCluster) Members(context.Context) ([]node.Member, error) {
	return []node.Member{{ID: "m1", PeerAddr: "127.0.0.1:1", ClientAddr: c.addr, Voter: true, Leader: true, Reachable: true}}, nil
}
