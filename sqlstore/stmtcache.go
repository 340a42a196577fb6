package sqlstore

import (
	"container/list"
	"errors"

	"github.com/ncruces/go-sqlite3"
)

// Prepared-statement caches. Parsing is most of what an apply costs (every
// member prepares every statement of every entry), so each connection
// keeps its statements prepared, keyed by SQL text:
//
//   - user statements in a bounded LRU (userStmtCacheSize). They are
//     prepared, and re-prepared by SQLite after a schema change (ncruces
//     prepares with sqlite3_prepare_v3), only while the connection's
//     authorizer judges user statements, so a cached statement passed the
//     same check a fresh prepare would get, against the current schema.
//     A cache is only ever used in one authorizer mode: the apply
//     connection's (user, write) and a read connection's Query (user,
//     read); inspect (write) prepares anew.
//   - concord's own statements (BEGIN, SAVEPOINT, the meta table) in an
//     unbounded cache of fixed text, prepared and run with the authorizer
//     off. User SQL never enters it.
//
// After each use a statement is reset and its bindings cleared, so it
// holds no transaction, lock or bound blob. Every statement is finalized
// before its connection closes (a Conn with live statements refuses to
// close).
const userStmtCacheSize = 128

// stmtCache is one connection's cache of prepared statements. max 0 means
// unbounded. A nil *stmtCache caches nothing: prepare prepares anew and
// done closes.
type stmtCache struct {
	max int
	m   map[string]*list.Element
	lru list.List // of *cachedStmt, most recently used first
}

type cachedStmt struct {
	sql  string
	stmt *sqlite3.Stmt
}

func newStmtCache(max int) *stmtCache {
	return &stmtCache{max: max, m: make(map[string]*list.Element)}
}

// prepare returns sql's statement: the cached one, or a new one (cached
// when it is one whole statement). cached says whether done must give it
// back instead of closing it. A statement that does not prepare, is
// empty, or has trailing SQL is never cached.
func (c *stmtCache) prepare(conn *sqlite3.Conn, sql string) (stmt *sqlite3.Stmt, tail string, cached bool, err error) {
	if c != nil {
		if e, ok := c.m[sql]; ok {
			c.lru.MoveToFront(e)
			return e.Value.(*cachedStmt).stmt, "", true, nil
		}
	}
	stmt, tail, err = conn.Prepare(sql)
	if err != nil || stmt == nil || c == nil || (tail != "" && !onlySpace(tail)) {
		return stmt, tail, false, err
	}
	c.m[sql] = c.lru.PushFront(&cachedStmt{sql: sql, stmt: stmt})
	if c.max > 0 && c.lru.Len() > c.max {
		old := c.lru.Remove(c.lru.Back()).(*cachedStmt)
		delete(c.m, old.sql)
		old.stmt.Close()
	}
	return stmt, "", true, nil
}

// done ends one use of stmt: a cached statement is reset with its
// bindings cleared, any other closed.
func (c *stmtCache) done(stmt *sqlite3.Stmt, cached bool) {
	if stmt == nil {
		return
	}
	if !cached {
		stmt.Close()
		return
	}
	stmt.Reset() // its error is the step's, already reported
	stmt.ClearBindings()
}

// exec runs one fixed statement of concord's (no parameters, no rows)
// through the cache.
func (c *stmtCache) exec(conn *sqlite3.Conn, sql string) error {
	stmt, _, cached, err := c.prepare(conn, sql)
	if err != nil {
		return err
	}
	if stmt == nil {
		return errors.New("sqlstore: empty statement")
	}
	err = stmt.Exec()
	c.done(stmt, cached)
	return err
}

// close finalizes every cached statement; the cache is empty and usable
// after.
func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, e.Value.(*cachedStmt).stmt.Close())
	}
	c.lru.Init()
	clear(c.m)
	return errors.Join(errs...)
}

// len is the number of cached statements (tests).
func (c *stmtCache) len() int {
	if c == nil {
		return 0
	}
	return c.lru.Len()
}
