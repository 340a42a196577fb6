package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/ncruces/go-sqlite3"
)

// readConn is a read-only connection to the database file, reused across
// queries. Its authorizer judges user statements (while user is true) and
// keeps the first refusal in denied, so the caller can return a typed
// error instead of SQLite's "not authorized".
type readConn struct {
	conn   *sqlite3.Conn
	stmts  *stmtCache // Query's user statements, judged as reads (stmtcache.go)
	ctl    *stmtCache // BEGIN and ROLLBACK
	gen    uint64
	user   bool
	write  bool // judge as a write (inspect before proposing)
	denied error
}

// readPool keeps up to Config.ReadConns idle read connections. More
// concurrent reads each open a connection of their own, closed after use.
// A restore that swaps the file in bumps gen (flush): connections of an
// older generation still read the old file and are closed on return.
type readPool struct {
	mu     sync.Mutex
	idle   []*readConn
	gen    uint64
	closed bool
}

// reader takes an idle read connection or opens one.
func (s *Store) reader() (*readConn, error) {
	p := &s.readers
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		rc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return rc, nil
	}
	gen := p.gen
	p.mu.Unlock()
	conn, err := openDB(filepath.Join(s.cfg.Dir, dbFileName), sqlite3.OPEN_READONLY)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open read connection: %w", err)
	}
	rc := &readConn{conn: conn, gen: gen, stmts: newStmtCache(userStmtCacheSize), ctl: newStmtCache(0)}
	err = conn.SetAuthorizer(func(action sqlite3.AuthorizerActionCode, name3rd, name4th, _, _ string) sqlite3.AuthorizerReturnCode {
		if !rc.user {
			return sqlite3.AUTH_OK
		}
		if err := judge(action, name3rd, name4th, rc.write); err != nil {
			if rc.denied == nil {
				rc.denied = err
			}
			return sqlite3.AUTH_DENY
		}
		return sqlite3.AUTH_OK
	})
	if err != nil {
		rc.close()
		return nil, fmt.Errorf("sqlstore: read connection authorizer: %w", err)
	}
	return rc, nil
}

// release returns rc to the pool, or closes it when the pool is full,
// closed, flushed since rc was opened, or rc was left inside a
// transaction.
func (s *Store) release(rc *readConn) {
	rc.conn.SetInterrupt(context.Background())
	rc.user, rc.write, rc.denied = false, false, nil
	p := &s.readers
	p.mu.Lock()
	if !p.closed && rc.gen == p.gen && len(p.idle) < s.cfg.ReadConns && rc.conn.GetAutocommit() {
		p.idle = append(p.idle, rc)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	rc.close()
}

// close finalizes rc's statements and closes its connection.
func (rc *readConn) close() {
	rc.stmts.close()
	rc.ctl.close()
	rc.conn.Close()
}

// flush closes the idle connections and retires those in use: the file
// they opened was replaced.
func (p *readPool) flush() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.gen++
	p.mu.Unlock()
	for _, rc := range idle {
		rc.close()
	}
}

// close closes the idle connections; those in use close on return.
func (p *readPool) close() {
	p.flush()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}
