package sqlstore

import (
	"errors"
	"fmt"
	"strings"
)

// Errors a caller can tell apart with errors.Is; the HTTP API maps each
// to its wire form in one place. They are returned wrapped with context.
var (
	// ErrTooManyStatements: a request has more statements than MaxStatements.
	ErrTooManyStatements = errors.New("sqlstore: too many statements in request")
	// ErrNotDeterministic: a write calls something that cannot be made
	// identical on every member; refused before it reaches the log.
	ErrNotDeterministic = errors.New("sqlstore: statement is not deterministic")
	// ErrForbidden: ATTACH/DETACH, load_extension, a PRAGMA that changes
	// durability or file layout, VACUUM in a transaction, or explicit
	// transaction control inside a request.
	ErrForbidden = errors.New("sqlstore: statement not allowed")
	// ErrResultTooLarge: a query's result passed MaxResultBytes.
	ErrResultTooLarge = errors.New("sqlstore: result too large")
	// ErrQueryTimeout: a query ran past its time limit and was interrupted.
	ErrQueryTimeout = errors.New("sqlstore: query timed out")
	// ErrStale: a level=none read with a freshness bound on a member that
	// has not heard from the leader recently enough.
	ErrStale = errors.New("sqlstore: member is staler than the freshness bound")
	// ErrParams: parameters do not match the statement's placeholders or
	// have an unsupported type.
	ErrParams = errors.New("sqlstore: parameters do not match statement")
	// ErrCommandTooLarge: an encoded request is larger than the command cap.
	ErrCommandTooLarge = errors.New("sqlstore: request too large")
	// ErrLoadTooLarge: a Load past MaxLoadBytes; a database that large
	// is moved with `concord snapshot restore`.
	ErrLoadTooLarge = errors.New("sqlstore: load too large")
	// ErrBadLoad: a Load that is neither a sound SQLite file nor SQL text
	// that runs cleanly on an empty database.
	ErrBadLoad = errors.New("sqlstore: invalid load")
	// ErrBadCommand: a log entry or apply result that does not decode.
	ErrBadCommand = errors.New("sqlstore: malformed command")
	// ErrResultUnavailable: the write WAS applied, but its result (last
	// insert id, rows affected, rows) is gone: the member applied it
	// before it restarted and skipped it on replay, and a client's retry
	// was answered from the node's session table with the replay's
	// outcome. The caller must treat the write as done.
	ErrResultUnavailable = errors.New("sqlstore: the write was applied, but its result is not available (applied before this member restarted)")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("sqlstore: store closed")
)

// alreadyApplied is Apply's outcome for an entry already in the file: it
// was applied before a restart, and its result was not kept.
func alreadyApplied(index uint64) string {
	return fmt.Sprintf("%s: index %d", ErrResultUnavailable.Error(), index)
}

// commandError turns an apply's command-level error text (it crossed the
// network as text) back into the typed error it stands for, so callers
// and the HTTP API can tell them apart.
func commandError(what string, index uint64, msg string) error {
	for _, e := range []error{ErrResultUnavailable, ErrDamaged, ErrClosed} {
		if rest, ok := strings.CutPrefix(msg, e.Error()); ok {
			return fmt.Errorf("sqlstore: %s at index %d: %w%s", what, index, e, rest)
		}
	}
	return fmt.Errorf("sqlstore: %s at index %d: %s", what, index, msg)
}
