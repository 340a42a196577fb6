package agent

import (
	"context"
	"fmt"
	"io"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/server/sqlapi"
	"github.com/concord-db/concord/sqlstore"
)

// sqlDatabase is the one SQL database's name in auth.NamespaceSQL: a
// role grants SQL with a permission on key "\x00sql/main" (or a range
// covering it, or the whole key space).
const sqlDatabase = "main"

// sqlAuthDB is the SQL face's database behind the auth check: every
// method of sqlapi.DB and sqlapi.TxnDB asks the auth store first, with the
// identity the client port's guard put in the context
// (auth.IdentityFromContext), so that SQL is guarded by the same users and
// roles as the key-value store. Reads (queries at any level, a read-only
// /db/request, backups and dumps, a read-only transaction) need read on
// the database; anything that may write (execute, load, a /db/request
// with a write, a read-write transaction) needs write.
type sqlAuthDB struct {
	db   *sqlstore.DB
	auth *auth.Store
}

var (
	_ sqlapi.DB    = sqlAuthDB{}
	_ sqlapi.TxnDB = sqlAuthDB{}
)

// check authorizes op on the database for ctx's caller. With auth off
// (or no store) it allows everything.
func (g sqlAuthDB) check(ctx context.Context, op auth.Op) error {
	if g.auth == nil || !g.auth.Enabled() {
		return nil
	}
	id, _ := auth.IdentityFromContext(ctx)
	if err := g.auth.Authorize(ctx, auth.Request{User: id, Op: op, Namespace: auth.NamespaceSQL, Key: []byte(sqlDatabase)}); err != nil {
		return fmt.Errorf("sql: %s on database %q: %w", op, sqlDatabase, err)
	}
	return nil
}

// stamped returns ctx with the auth state a check is about to see: the
// writes proposed with it are refused at apply if that state moves
// (auth/stamp.go).
func (g sqlAuthDB) stamped(ctx context.Context) context.Context {
	return auth.WithStamp(ctx, g.auth.Stamp())
}

func (g sqlAuthDB) Execute(ctx context.Context, req sqlapi.Request) ([]sqlapi.Result, error) {
	ctx = g.stamped(ctx)
	if err := g.check(ctx, auth.OpWrite); err != nil {
		return nil, err
	}
	return g.db.Execute(ctx, req)
}

func (g sqlAuthDB) Query(ctx context.Context, req sqlapi.Request, opts sqlapi.QueryOptions) ([]sqlapi.Result, error) {
	if err := g.check(ctx, auth.OpRead); err != nil {
		return nil, err
	}
	return g.db.Query(ctx, req, opts)
}

// Request needs write unless every statement only reads (judged the way
// /db/request itself decides; a request that does not prepare needs
// write).
func (g sqlAuthDB) Request(ctx context.Context, req sqlapi.Request, opts sqlapi.QueryOptions) ([]sqlapi.Result, error) {
	ctx = g.stamped(ctx)
	op := auth.OpWrite
	if g.auth != nil && g.auth.Enabled() && g.db.ReadOnly(req) {
		op = auth.OpRead
	}
	if err := g.check(ctx, op); err != nil {
		return nil, err
	}
	return g.db.Request(ctx, req, opts)
}

func (g sqlAuthDB) Backup(ctx context.Context, w io.Writer) error {
	if err := g.check(ctx, auth.OpRead); err != nil {
		return err
	}
	return g.db.Backup(ctx, w)
}

func (g sqlAuthDB) Dump(ctx context.Context, w io.Writer) error {
	if err := g.check(ctx, auth.OpRead); err != nil {
		return err
	}
	return g.db.Dump(ctx, w)
}

func (g sqlAuthDB) Load(ctx context.Context, r io.Reader) error {
	ctx = g.stamped(ctx)
	if err := g.check(ctx, auth.OpWrite); err != nil {
		return err
	}
	return g.db.Load(ctx, r)
}

// BeginTx needs read for a read-only transaction, write otherwise. The
// statements later sent to the transaction are the caller's (sqlapi binds
// a transaction to the identity that began it), and a read-only
// transaction refuses writes itself.
func (g sqlAuthDB) BeginTx(ctx context.Context, opts sqlstore.TxOptions) (*sqlstore.Tx, error) {
	op := auth.OpWrite
	if opts.ReadOnly {
		op = auth.OpRead
	}
	if err := g.check(ctx, op); err != nil {
		return nil, err
	}
	return g.db.BeginTx(ctx, opts)
}
