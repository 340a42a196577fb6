package sqlstore

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// A full file system (SQLITE_FULL) while applying an entry is a local
// condition, not an outcome of the entry: the other members applied it. So
// that a member whose disk fills for a while keeps its SQL face (as its log
// and in-memory faces do), the apply rolls the entry's whole transaction
// back and runs the entry again from the start once space may have
// returned, holding the apply (and so this member's applied index) until
// then. Only if the condition outlasts noSpaceWaitLimit, or the store is
// closing, does it fail stop as for any other local failure (recover.go):
// raft's shutdown waits for the apply, so the wait must end.
const noSpaceWaitLimit = 30 * time.Second

// noSpacePause is how long the apply waits before running the entry
// again; tests shorten it, or free space in it.
var noSpacePause = func(attempt int) {
	time.Sleep(min(time.Duration(attempt+1)*100*time.Millisecond, time.Second))
}

// errNoSpaceRetry makes the apply roll back an entry in which a statement
// met SQLITE_FULL (the statement's own error was caught and turned into a
// Result, which must not be committed). It matches sqlite3.FULL, so that
// a wait that gives up fails stop (localFailure).
var errNoSpaceRetry = fmt.Errorf("sqlstore: a statement found the file system full: %w", sqlite3.FULL)

// isNoSpace reports whether err is SQLite's "database or disk is full",
// or a write the file system refused for space (ENOSPC, EDQUOT), or an I/O
// error while dir's file system is (nearly) full: SQLite's default VFS
// turns most ENOSPC write errors into a plain SQLITE_IOERR (a real full
// tmpfs showed it), and does not always keep the system error.
func isNoSpace(err error, dir string) bool {
	switch {
	case errors.Is(err, sqlite3.FULL), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return true
	case errors.Is(err, sqlite3.IOERR):
		return dirNearlyFull(dir)
	}
	return false
}

// retryNoSpace is called, with s.mu held and the entry's transaction rolled
// back, after an apply failed with err. It reports whether the entry is to
// be run again: err (or a statement inside the entry) met SQLITE_FULL, and
// the wait that began at since has not passed noSpaceWaitLimit.
func (s *Store) retryNoSpace(err error, since time.Time, attempt int) bool {
	full := s.noSpace || isNoSpace(err, s.cfg.Dir)
	s.noSpace = false
	if !full || s.closing.Load() || time.Since(since) > noSpaceWaitLimit {
		return false
	}
	if attempt == 0 {
		s.cfg.Logger.Warn("sqlstore: the file system is full: holding the apply and retrying the entry until space returns",
			"applied", s.applied, "limit", noSpaceWaitLimit)
	}
	noSpacePause(attempt)
	s.run = applyRun{}
	return true
}
