package sqldriver

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors a caller can tell apart with errors.Is.
var (
	// ErrTxnConflict: the transaction was not applied because what it read
	// changed (a serialization failure). Run it again from the start.
	ErrTxnConflict = errors.New("concord: transaction conflict (serialization failure), retry the transaction")
	// ErrTxnLost: the member that holds the transaction no longer has it
	// (it restarted, the transaction expired or ended, or the member cannot
	// be reached). Nothing of it was applied; run it again.
	ErrTxnLost = errors.New("concord: transaction lost")
	// ErrOutcomeUnknown: a write or commit was sent but no answer came
	// back; it may or may not have been applied. It is never retried
	// automatically.
	ErrOutcomeUnknown = errors.New("concord: outcome unknown")
	// ErrUnavailable: no member could take the request (each refused the
	// connection, or answered 503 to a read); nothing was applied.
	ErrUnavailable = errors.New("concord: no member could serve the request")
	// ErrStatement: SQLite rejected the statement (the message is
	// SQLite's); nothing of it was applied.
	ErrStatement = errors.New("concord: statement failed")
)

// Error is a failure reported by a member: the HTTP status, the member's
// message, and the kind above it matches (Unwrap), if any.
type Error struct {
	Status  int
	Message string
	Kind    error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

func (e *Error) Unwrap() error { return e.Kind }

// op is what a request does, for reading its failures.
type op int

const (
	opRead   op = iota // a query: safe to send again
	opWrite            // a write outside a transaction
	opTx               // a statement inside a transaction, or a rollback
	opCommit           // a commit
)

// statusError turns a member's error answer into an Error of the right kind.
func statusError(status int, msg string, o op) error {
	e := &Error{Status: status, Message: msg}
	switch {
	case status == http.StatusConflict:
		e.Kind = ErrTxnConflict
	case status == http.StatusNotFound && o >= opTx:
		e.Kind = ErrTxnLost
	case status == http.StatusGatewayTimeout && (o == opWrite || o == opCommit):
		e.Kind = ErrOutcomeUnknown
	case status == http.StatusServiceUnavailable && o >= opTx:
		// The member could not run it (no leader, shutting down): the
		// member forgot the transaction, and the node reports a commit
		// that may have applied as 504, not 503.
		e.Kind = ErrTxnLost
	}
	return e
}
