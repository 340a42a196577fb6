package sqlapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/concord-db/concord/sqlstore"
)

// Interactive transactions over HTTP (concord's own; rqlite has none):
//
//	POST   /db/tx[?read_only]   begin      → {"id":"<id>"}
//	POST   /db/tx/{id}          statements → rqlite's {"results":[...]}
//	POST   /db/tx/{id}/commit   commit     → {}
//	DELETE /db/tx/{id}          rollback   → {}
//
// A transaction lives on the member that began it (sqlstore.Tx holds no
// lock between requests); its id names this member's incarnation, so a
// request after a restart, or to another member, gets a clear 404. A
// transaction idle for TxnIdleTimeout is forgotten. Statuses: 409 for a
// serialization failure (retry the transaction), 404 for an unknown,
// expired or ended transaction, 413 past sqlstore.MaxTxnStatements, 504
// when the commit's outcome is unknown.

// TxnDB is what the transaction endpoints need of the database
// (sqlstore.DB). Without it the endpoints are not served.
type TxnDB interface {
	BeginTx(ctx context.Context, opts sqlstore.TxOptions) (*sqlstore.Tx, error)
}

// Limits of the transaction endpoints.
const (
	// TxnIdleTimeout is how long an open transaction may go without a
	// request before it is forgotten.
	TxnIdleTimeout = time.Minute
	// MaxOpenTxns caps the open transactions of one member.
	MaxOpenTxns = 4096
)

// txnNotFound: the id names no open transaction of this member.
func txnNotFound(format string, args ...any) error {
	return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// txnRegistry maps ids to this member's open transactions.
type txnRegistry struct {
	db    TxnDB
	epoch string // random per process, the first part of every id
	idle  time.Duration
	now   func() time.Time // time.Now; tests move it
	mu    sync.Mutex
	open  map[string]*openTxn
}

type openTxn struct {
	tx       *sqlstore.Tx
	owner    string // the user that began it (auth.Identity.Name; "" with auth off)
	lastUsed time.Time
}

// newTxnRegistry returns nil when db has no transactions.
func newTxnRegistry(db DB) *txnRegistry {
	tdb, ok := db.(TxnDB)
	if !ok {
		return nil
	}
	return &txnRegistry{db: tdb, epoch: randomHex(4), idle: TxnIdleTimeout, now: time.Now, open: map[string]*openTxn{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// add registers tx, begun without an identity (auth off).
func (reg *txnRegistry) add(tx *sqlstore.Tx) (string, error) { return reg.addOwned(tx, "") }

// get finds an open transaction begun without an identity.
func (reg *txnRegistry) get(id string) (*sqlstore.Tx, error) { return reg.getOwned(id, "") }

// addOwned registers tx, bound to the user that began it, and sweeps out
// the idle ones.
func (reg *txnRegistry) addOwned(tx *sqlstore.Tx, owner string) (string, error) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	now := reg.now()
	for id, o := range reg.open {
		if now.Sub(o.lastUsed) > reg.idle {
			_ = o.tx.Rollback()
			delete(reg.open, id)
		}
	}
	if len(reg.open) >= MaxOpenTxns {
		return "", &apiError{status: http.StatusServiceUnavailable, msg: fmt.Sprintf("too many open transactions on this member (%d); commit or roll back some", MaxOpenTxns)}
	}
	id := reg.epoch + "-" + randomHex(12)
	reg.open[id] = &openTxn{tx: tx, owner: owner, lastUsed: now}
	return id, nil
}

// getOwned finds an open transaction and marks it used. A transaction
// is only its owner's: another user naming its id is told it is unknown
// (the same answer as for an id that names nothing, so ids leak nothing),
// and the transaction stays as it was.
func (reg *txnRegistry) getOwned(id, owner string) (*sqlstore.Tx, error) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	o := reg.open[id]
	if o != nil && o.owner != owner {
		return nil, txnNotFound("transaction %s is unknown: it ended (committed, rolled back or failed) or expired", id)
	}
	now := reg.now()
	if o != nil && now.Sub(o.lastUsed) > reg.idle {
		_ = o.tx.Rollback()
		delete(reg.open, id)
		return nil, txnNotFound("transaction %s expired: idle for more than %v", id, reg.idle)
	}
	if o == nil {
		if !strings.HasPrefix(id, reg.epoch+"-") {
			return nil, txnNotFound("transaction %s is unknown here: it began on another member, or before this member restarted, and is lost; start it again", id)
		}
		return nil, txnNotFound("transaction %s is unknown: it ended (committed, rolled back or failed) or expired", id)
	}
	o.lastUsed = now
	return o.tx, nil
}

// touch marks id used at the end of a request, so a long statement does
// not count as idle time.
func (reg *txnRegistry) touch(id string) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if o := reg.open[id]; o != nil {
		o.lastUsed = reg.now()
	}
}

func (reg *txnRegistry) remove(id string) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	delete(reg.open, id)
}

// txnRoutes are the transaction endpoints, none without a TxnDB.
func (a *API) txnRoutes() map[string]http.Handler {
	if a.txns == nil {
		return nil
	}
	return map[string]http.Handler{
		"POST /db/tx":             http.HandlerFunc(a.txBegin),
		"POST /db/tx/{id}":        http.HandlerFunc(a.txExecute),
		"POST /db/tx/{id}/commit": http.HandlerFunc(a.txCommit),
		"DELETE /db/tx/{id}":      http.HandlerFunc(a.txRollback),
	}
}
