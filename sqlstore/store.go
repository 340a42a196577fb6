package sqlstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// dbFileName is the database file inside Config.Dir.
const dbFileName = "sql.db"

// Store is concord's replicated SQLite state machine. Apply runs on one
// write connection; the applied raft index lives in the meta table and is
// written in the same transaction as each command's effects.
type Store struct {
	cfg Config

	mu      sync.Mutex // serializes apply and close
	conn    *sqlite3.Conn
	clock   clock
	user    bool // a user statement is running: the authorizer applies
	applied uint64
	lastTS  int64 // the last applied command's timestamp: now never goes back
	closed  bool

	stmts *stmtCache // user statements on conn (stmtcache.go)
	ctl   *stmtCache // concord's own statements on conn

	readers readPool // read-only connections for queries (pool.go)
	metOnce sync.Once
	metrics *storeMetrics // metrics.go
	check   fullCheck     // the background integrity check (recover.go)
	ckpt    checkpointer  // the background WAL checkpoints (checkpoint.go)
	failed  atomic.Bool   // an apply failed on this member only (recover.go)
	noSpace bool          // a statement of the running apply met SQLITE_FULL (nospace.go)
	closing atomic.Bool   // Close was called: an apply waiting for space gives up
	run     applyRun      // the apply's statements that rolled back everything (rollbackall.go)
}

// Open opens (or creates) the database in cfg.Dir in WAL mode.
// synchronous=NORMAL: the raft log is the durability, and after a crash
// Apply skips entries whose index is already in the file.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{cfg: cfg}
	if err := s.recoverDamaged(); err != nil {
		return nil, err
	}
	if err := s.reopen(); err != nil {
		return nil, err
	}
	s.startFullCheck()
	return s, nil
}

// reopen opens the apply and clock connections and loads the meta state.
func (s *Store) reopen() error {
	s.readers.flush() // after a restore, pooled readers see the old file
	conn, err := openDB(filepath.Join(s.cfg.Dir, dbFileName), sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE)
	if err != nil {
		return fmt.Errorf("sqlstore: open database: %w", err)
	}
	priv, err := sqlite3.Open(":memory:")
	if err != nil {
		conn.Close()
		return fmt.Errorf("sqlstore: open clock connection: %w", err)
	}
	s.conn, s.clock = conn, clock{priv: priv}
	s.stmts, s.ctl = newStmtCache(userStmtCacheSize), newStmtCache(0)
	if err := s.init(); err != nil {
		s.closeConns()
		return err
	}
	if err := s.startCheckpointer(); err != nil {
		s.closeConns()
		return err
	}
	return nil
}

func (s *Store) init() error {
	for _, q := range []string{
		"PRAGMA journal_mode=WAL",
		"PRAGMA synchronous=NORMAL",
		fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", applyCheckpointPages), // checkpoint.go
		"CREATE TABLE IF NOT EXISTS _concord_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
	} {
		if err := s.conn.Exec(q); err != nil {
			return fmt.Errorf("sqlstore: %s: %w", q, err)
		}
	}
	idx, err := s.metaInt("applied_index")
	if err != nil {
		return err
	}
	s.applied = uint64(idx)
	if s.lastTS, err = s.metaInt("last_timestamp"); err != nil {
		return err
	}
	if err := installAuthorizer(s.conn, &s.user); err != nil {
		return fmt.Errorf("sqlstore: install authorizer: %w", err)
	}
	if err := installDeterminism(s.conn, &s.clock); err != nil {
		return fmt.Errorf("sqlstore: install deterministic functions: %w", err)
	}
	return nil
}

func (s *Store) metaInt(key string) (int64, error) {
	st, _, cached, err := s.ctl.prepare(s.conn, "SELECT value FROM _concord_meta WHERE key = ?")
	if err != nil {
		return 0, fmt.Errorf("sqlstore: read meta: %w", err)
	}
	defer s.ctl.done(st, cached)
	if err := st.BindText(1, key); err != nil {
		return 0, err
	}
	var v int64
	if st.Step() {
		v = st.ColumnInt64(0)
	}
	if err := st.Err(); err != nil {
		return 0, fmt.Errorf("sqlstore: read meta %s: %w", key, err)
	}
	return v, nil
}

func (s *Store) setMetaInt(key string, v int64) error {
	st, _, cached, err := s.ctl.prepare(s.conn, "INSERT OR REPLACE INTO _concord_meta (key, value) VALUES (?, ?)")
	if err != nil {
		return err
	}
	defer s.ctl.done(st, cached)
	if err := st.BindText(1, key); err != nil {
		return err
	}
	if err := st.BindInt64(2, v); err != nil {
		return err
	}
	return st.Exec()
}

// Close closes the database. Apply after Close returns ErrClosed.
func (s *Store) Close() error {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.readers.close()
	s.check.stop()
	s.ckpt.stop()
	return s.closeConns()
}

// closeConns finalizes the cached statements and closes the apply and
// clock connections (Close, and swapIn before the file is replaced).
func (s *Store) closeConns() error {
	return errors.Join(s.stmts.close(), s.ctl.close(), s.conn.Close(), s.clock.priv.Close())
}

// execCtl runs one of concord's own fixed statements (BEGIN, SAVEPOINT,
// ...) on the apply connection, prepared once (stmtcache.go).
func (s *Store) execCtl(sql string) error {
	return s.ctl.exec(s.conn, sql)
}

// AppliedIndex is the raft index of the last command in the database.
func (s *Store) AppliedIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

// Apply runs one command (node.StateMachine). Commands at or below the
// applied index are already in the file and are skipped. The result is
// an encoded applyResult.
func (s *Store) Apply(index uint64, cmd []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.observeApply(time.Now())
	if s.closed {
		return encodeResult(applyResult{Err: ErrClosed.Error()})
	}
	if err := s.failedErr(); err != nil {
		return encodeResult(applyResult{Err: err.Error()})
	}
	if index != 0 && index <= s.applied {
		return encodeResult(applyResult{Err: alreadyApplied(index)})
	}
	c, err := decodeCommand(cmd)
	if err != nil {
		// Still record the index: the entry is consumed.
		if err2 := s.recordIndexOnly(index); err2 != nil {
			s.cfg.Logger.Error("sqlstore: record applied index", "index", index, "err", err2)
		}
		return encodeResult(applyResult{Err: err.Error()})
	}
	res, err := s.applyCommand(index, c)
	if err != nil {
		return encodeResult(applyResult{Err: err.Error()})
	}
	return encodeResult(res)
}

func (s *Store) recordIndexOnly(index uint64) error {
	if err := s.execCtl("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := s.setMetaInt("applied_index", int64(index)); err != nil {
		s.execCtl("ROLLBACK")
		return err
	}
	if err := s.execCtl("COMMIT"); err != nil {
		return err
	}
	s.applied = index
	return nil
}

// applyCommand runs c in one SQLite transaction that also records index.
// With Request.Transaction the statements run all or nothing (a failure
// rolls back the request's work, the index is still recorded); otherwise
// each statement has its own savepoint and a failure does not stop the
// next.
func (s *Store) applyCommand(index uint64, c command) (applyResult, error) {
	defer s.endRun()
	since, attempt := time.Now(), 0
begin: // again after a statement rolled back everything (rollbackall.go), or after a full disk (nospace.go)
	if err := s.execCtl("BEGIN IMMEDIATE"); err != nil {
		if s.retryNoSpace(err, since, attempt) {
			attempt++
			goto begin
		}
		return applyResult{}, fmt.Errorf("sqlstore: begin: %w", err)
	}
	ts := max(c.Timestamp, s.lastTS)
	results, err := s.runRequest(c, ts)
	if s.startOver(err) {
		goto begin
	}
	if err == nil && s.noSpace {
		err = errNoSpaceRetry
	}
	if err == nil {
		err = s.setMetaInt("applied_index", int64(index))
	}
	if err == nil {
		err = s.setMetaInt("last_timestamp", ts)
	}
	if err == nil {
		err = s.execCtl("COMMIT")
	}
	if err != nil {
		s.execCtl("ROLLBACK")
		if s.retryNoSpace(err, since, attempt) {
			attempt++
			goto begin
		}
		s.failStop(err)
		return applyResult{}, fmt.Errorf("sqlstore: apply index %d: %w", index, err)
	}
	s.applied = index
	s.lastTS = ts
	return applyResult{Results: results}, nil
}

// runRequest runs the statements inside the open transaction. The error
// return is for failures of the savepoint machinery itself; statement
// failures are reported in their Result.
func (s *Store) runRequest(c command, ts int64) ([]Result, error) {
	// last_insert_rowid() and changes() start from zero in every
	// command, so they do not depend on what this member ran before (a
	// member that restarted or restored a snapshot has no history).
	if err := s.resetCounters(); err != nil {
		return nil, err
	}
	if c.Load != "" || c.Check != nil {
		return s.runWhole(c, ts) // a /db/load or a transaction's commit (rollbackall.go)
	}
	stmts := c.Request.Statements
	results := make([]Result, 0, len(stmts))
	if c.Request.Transaction {
		if err := s.execCtl("SAVEPOINT request"); err != nil {
			return nil, err
		}
		for i, st := range stmts {
			s.clock.setStatement(ts, c.Seed, i)
			r, err := s.runOne(i, st)
			if err != nil {
				return nil, err
			}
			results = append(results, r)
			if r.Error != "" {
				if err := s.execCtl("ROLLBACK TO request"); err != nil {
					return nil, err
				}
				break
			}
		}
		return results, s.execCtl("RELEASE request")
	}
	for i, st := range stmts {
		if err := s.execCtl("SAVEPOINT stmt"); err != nil {
			return nil, err
		}
		s.clock.setStatement(ts, c.Seed, i)
		r, err := s.runOne(i, st)
		if err != nil {
			return nil, err
		}
		if r.Error != "" {
			if err := s.execCtl("ROLLBACK TO stmt"); err != nil {
				return nil, err
			}
		}
		if err := s.execCtl("RELEASE stmt"); err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, nil
}

// runStatement prepares, binds and steps one statement on the apply
// connection; any failure becomes the Result's Error (SQLite's text).
func (s *Store) runStatement(st Statement) Result {
	start := time.Now()
	s.user = true
	r, err := runStmtCached(s.conn, s.stmts, st, nil)
	s.user = false
	s.met().statements.Inc()
	if err != nil {
		s.noteFailure(err)
		r = Result{Error: errorText(err)}
	}
	r.Time = time.Since(start)
	return r
}

// execStatement runs one statement with no cap on its result (runStmt).
func execStatement(conn *sqlite3.Conn, st Statement) (Result, error) {
	return runStmt(conn, st, nil)
}

func onlySpace(s string) bool {
	for _, c := range s {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';' {
			return false
		}
	}
	return true
}

func columnValue(stmt *sqlite3.Stmt, i int) any {
	switch stmt.ColumnType(i) {
	case sqlite3.INTEGER:
		return stmt.ColumnInt64(i)
	case sqlite3.FLOAT:
		return stmt.ColumnFloat(i)
	case sqlite3.TEXT:
		return stmt.ColumnText(i)
	case sqlite3.BLOB:
		return stmt.ColumnBlob(i, []byte{})
	default:
		return nil
	}
}

// bindParams binds positional values in order and named values by name
// (with or without their :, @ or $ prefix). A count or name that does not
// match the statement's placeholders is an ErrParams.
func bindParams(stmt *sqlite3.Stmt, st Statement) error {
	count := stmt.BindCount()
	if len(st.Positional) > 0 && len(st.Named) > 0 {
		return fmt.Errorf("%w: both positional and named parameters", ErrParams)
	}
	if len(st.Named) > 0 {
		if len(st.Named) != count {
			return fmt.Errorf("%w: %d named parameters for %d placeholders", ErrParams, len(st.Named), count)
		}
		for name, v := range st.Named {
			idx := 0
			if name != "" && (name[0] == ':' || name[0] == '@' || name[0] == '$') {
				idx = stmt.BindIndex(name)
			} else {
				for _, p := range []string{":", "@", "$"} {
					if idx = stmt.BindIndex(p + name); idx != 0 {
						break
					}
				}
			}
			if idx == 0 {
				return fmt.Errorf("%w: no placeholder named %q", ErrParams, name)
			}
			if err := bindValue(stmt, idx, v); err != nil {
				return err
			}
		}
		return nil
	}
	if len(st.Positional) != count {
		return fmt.Errorf("%w: %d parameters for %d placeholders", ErrParams, len(st.Positional), count)
	}
	for i, v := range st.Positional {
		if err := bindValue(stmt, i+1, v); err != nil {
			return err
		}
	}
	return nil
}

func bindValue(stmt *sqlite3.Stmt, idx int, v any) error {
	switch x := v.(type) {
	case nil:
		return stmt.BindNull(idx)
	case int64:
		return stmt.BindInt64(idx, x)
	case int:
		return stmt.BindInt64(idx, int64(x))
	case float64:
		return stmt.BindFloat(idx, x)
	case string:
		return stmt.BindText(idx, x)
	case []byte:
		return stmt.BindBlob(idx, x)
	case bool:
		return stmt.BindBool(idx, x)
	default:
		return fmt.Errorf("%w: unsupported value type %T", ErrParams, v)
	}
}
