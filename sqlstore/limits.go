package sqlstore

import (
	"fmt"
	"strings"
)

// checkRequest refuses empty requests and requests over the statement cap.
func (s *Store) checkRequest(req Request) error {
	if len(req.Statements) == 0 {
		return fmt.Errorf("%w: no statements", ErrParams)
	}
	if len(req.Statements) > s.cfg.MaxStatements {
		return fmt.Errorf("%w: %d statements, at most %d (MaxStatements)", ErrTooManyStatements, len(req.Statements), s.cfg.MaxStatements)
	}
	return nil
}

// checkCommandSize refuses an encoded write larger than MaxCommandBytes.
func (s *Store) checkCommandSize(b []byte) error {
	if int64(len(b)) > s.cfg.MaxCommandBytes {
		return fmt.Errorf("%w: %d bytes encoded, at most %d (MaxCommandBytes)", ErrCommandTooLarge, len(b), s.cfg.MaxCommandBytes)
	}
	return nil
}

// inspect prepares each of req's statements on a pooled read connection,
// without running them, and judges them as writes: a statement that may
// not reach the log (ATTACH, load_extension, a durability PRAGMA, VACUUM,
// a member-dependent function, a connection-state PRAGMA) is refused here
// with a typed error, before anything is proposed. readOnly reports that
// every statement prepared and is read-only (rqlite's /db/request then
// serves it as a query). A statement that does not prepare here (a table
// an earlier statement of the request creates, a syntax error) is left to
// apply, which judges it again and reports SQLite's error in its Result.
func (s *Store) inspect(req Request) (readOnly bool, err error) {
	if err := s.checkRequest(req); err != nil {
		return false, err
	}
	rc, err := s.reader()
	if err != nil {
		return false, err
	}
	defer s.release(rc)
	readOnly = true
	var refused error
	for i, st := range req.Statements {
		if strings.Contains(strings.ToLower(st.SQL), "load_extension") {
			// This build has no load_extension, so the statement does not
			// prepare; refuse it by name.
			if refused == nil {
				refused = fmt.Errorf("statement %d: %w: load_extension", i+1, ErrForbidden)
			}
			readOnly = false
			continue
		}
		rc.user, rc.write, rc.denied = true, true, nil
		stmt, tail, perr := rc.conn.Prepare(st.SQL)
		rc.user = false
		if rc.denied != nil {
			if stmt != nil {
				stmt.Close()
			}
			if refused == nil {
				refused = fmt.Errorf("statement %d: %w", i+1, rc.denied)
			}
			readOnly = false
			continue
		}
		if perr != nil || stmt == nil {
			readOnly = false
			continue
		}
		ro := stmt.ReadOnly()
		stmt.Close()
		if isVacuum(st.SQL) {
			ro = false
			if refused == nil {
				refused = fmt.Errorf("statement %d: %w: VACUUM cannot run inside the apply transaction (concord keeps the file compact itself)", i+1, ErrForbidden)
			}
		}
		if tail != "" && !onlySpace(tail) {
			ro = false
		}
		readOnly = readOnly && ro
	}
	if readOnly {
		// Reads are judged again as reads when they run: random() and
		// friends are fine there.
		return true, nil
	}
	return false, refused
}

// isVacuum reports whether sql is a VACUUM statement (after comments are
// not considered: SQLite's own error then reports it at apply).
func isVacuum(sql string) bool {
	f := strings.Fields(sql)
	return len(f) > 0 && strings.EqualFold(strings.TrimRight(f[0], ";"), "VACUUM")
}
