package sqldriver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// DriverName is the name the driver registers with database/sql.
const DriverName = "concord"

func init() { sql.Register(DriverName, &Driver{}) }

// Driver is concord's database/sql driver.
type Driver struct{}

// Open opens a connection for a DSN (see Config).
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector parses the DSN once for all of a sql.DB's connections.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return NewConnector(cfg), nil
}

// NewConnector returns a connector for cfg, for sql.OpenDB.
func NewConnector(cfg Config) driver.Connector {
	return &connector{client: newClient(cfg)}
}

type connector struct{ client *client }

// Connect returns a connection; it does no network I/O (a connection is
// a handle on the shared HTTP client).
func (c *connector) Connect(context.Context) (driver.Conn, error) {
	return &conn{client: c.client}, nil
}

func (c *connector) Driver() driver.Driver { return &Driver{} }

// conn is one database/sql connection: stateless HTTP, except while a
// transaction is open on it.
type conn struct {
	client *client
	tx     *tx
}

var (
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext returns a statement that is sent anew on every use (the
// members prepare it themselves).
func (c *conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	return &stmt{conn: c, query: query}, nil
}

func (c *conn) Close() error {
	if c.tx != nil {
		_ = c.tx.Rollback()
	}
	return nil
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// CheckNamedValue accepts the driver's value types (and time.Time).
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return err
	}
	nv.Value = v
	return nil
}

// Ping asks some member for a trivial local read.
func (c *conn) Ping(ctx context.Context) error {
	body, _ := encodeStatement("SELECT 1", nil)
	_, _, err := c.client.send(ctx, opRead, "POST", "/db/query", url.Values{"level": {"none"}}, body)
	return err
}

// ExecContext runs a write: through the log via /db/execute, or in the
// open transaction.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r, err := c.run(ctx, query, args, opWrite)
	if err != nil {
		return nil, err
	}
	return result{lastInsertID: r.LastInsertID, rowsAffected: r.RowsAffected}, nil
}

// QueryContext runs a read at the DSN's level via /db/request (so a
// write with RETURNING works too), or in the open transaction.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.run(ctx, query, args, opRead)
	if err != nil {
		return nil, err
	}
	return newRows(r)
}

func (c *conn) run(ctx context.Context, query string, args []driver.NamedValue, o op) (*wireResult, error) {
	body, err := encodeStatement(query, args)
	if err != nil {
		return nil, err
	}
	q := url.Values{"blob_array": {"true"}}
	var resp *response
	switch {
	case c.tx != nil:
		resp, err = c.tx.send(ctx, opTx, "POST", "", q, body)
	case o == opWrite:
		resp, _, err = c.client.send(ctx, opWrite, "POST", "/db/execute", q, body)
	default:
		q.Set("level", c.client.cfg.Level)
		if c.client.cfg.Freshness > 0 && c.client.cfg.Level == "none" {
			q.Set("freshness", c.client.cfg.Freshness.String())
		}
		if !isRead(query) {
			o = opWrite // a write with RETURNING: never sent twice
		}
		resp, _, err = c.client.send(ctx, o, "POST", "/db/request", q, body)
	}
	if err != nil {
		return nil, err
	}
	if len(resp.Results) != 1 {
		return nil, fmt.Errorf("sqldriver: %d results for one statement", len(resp.Results))
	}
	r := &resp.Results[0]
	if r.Error != "" {
		return nil, &Error{Message: r.Error, Kind: ErrStatement}
	}
	return r, nil
}

// isRead reports whether a statement surely only reads, so that sending
// it again to another member is harmless.
func isRead(query string) bool {
	f := strings.Fields(query)
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(f[0]) {
	case "SELECT", "VALUES", "EXPLAIN":
		return true
	}
	return false
}

// BeginTx starts an interactive transaction. Nothing is sent until its
// first statement, which begins it on some member in the same request
// (nothing in it is applied before Commit, so that request may go to
// another member when one cannot be reached). From then on the member
// holds it until Commit or Rollback: every statement goes there. Every
// isolation level is served as serializable (strictly: commits are
// ordered in real time); ReadOnly refuses writes.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.tx != nil {
		return nil, errors.New("sqldriver: a transaction is already open on this connection")
	}
	c.tx = &tx{conn: c, readOnly: opts.ReadOnly}
	return c.tx, nil
}

// tx is a transaction: not begun until its first statement, then pinned
// to the member that began it.
type tx struct {
	conn     *conn
	readOnly bool
	base     string // the member holding it; empty before the first statement
	id       string
}

// send runs a request of the transaction; the first one begins it.
func (t *tx) send(ctx context.Context, o op, method, suffix string, q url.Values, body []byte) (*response, error) {
	if t.id == "" {
		if suffix != "" || method != "POST" {
			return nil, errors.New("sqldriver: internal error: transaction not begun")
		}
		if t.readOnly {
			q.Set("read_only", "true")
		}
		resp, base, err := t.conn.client.send(ctx, opRead, "POST", "/db/tx", q, body)
		if err != nil {
			return nil, err
		}
		if resp.ID == "" {
			return nil, errors.New("sqldriver: begin: the member answered no transaction id")
		}
		t.base, t.id = base, resp.ID
		return resp, nil
	}
	return t.conn.client.sendPinned(ctx, o, t.base, method, "/db/tx/"+url.PathEscape(t.id)+suffix, q, body)
}

// Commit applies the transaction. errors.Is(err, ErrTxnConflict) means it
// was not applied and may be retried from the start; ErrOutcomeUnknown
// that it may or may not have been.
func (t *tx) Commit() error {
	t.conn.tx = nil
	if t.id == "" {
		return nil // no statements: nothing to apply
	}
	_, err := t.send(context.Background(), opCommit, "POST", "/commit", nil, nil)
	return err
}

// Rollback forgets the transaction; one the member no longer has is
// rolled back already.
func (t *tx) Rollback() error {
	t.conn.tx = nil
	if t.id == "" {
		return nil
	}
	_, err := t.send(context.Background(), opTx, "DELETE", "", nil, nil)
	if errors.Is(err, ErrTxnLost) {
		return nil
	}
	return err
}

// stmt is a statement sent anew on every use.
type stmt struct {
	conn  *conn
	query string
}

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return -1 }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.conn.ExecContext(context.Background(), s.query, named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.conn.QueryContext(context.Background(), s.query, named(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.conn.ExecContext(ctx, s.query, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.conn.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

type result struct{ lastInsertID, rowsAffected int64 }

func (r result) LastInsertId() (int64, error) { return r.lastInsertID, nil }
func (r result) RowsAffected() (int64, error) { return r.rowsAffected, nil }

// rows are a whole result, already received.
type rows struct {
	columns []string
	types   []string
	values  [][]driver.Value
	next    int
}

func newRows(r *wireResult) (*rows, error) {
	out := &rows{columns: r.Columns, types: r.Types}
	for _, row := range r.Values {
		vals := make([]driver.Value, len(row))
		for i, v := range row {
			decl := ""
			if i < len(r.Types) {
				decl = r.Types[i]
			}
			var err error
			if vals[i], err = decodeValue(v, decl); err != nil {
				return nil, err
			}
		}
		out.values = append(out.values, vals)
	}
	return out, nil
}

func (r *rows) Columns() []string { return r.columns }
func (r *rows) Close() error      { return nil }

func (r *rows) Next(dest []driver.Value) error {
	if r.next >= len(r.values) {
		return io.EOF
	}
	copy(dest, r.values[r.next])
	r.next++
	return nil
}

// ColumnTypeDatabaseTypeName is the column's declared type, upper case.
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if i < len(r.types) {
		return strings.ToUpper(r.types[i])
	}
	return ""
}
