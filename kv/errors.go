package kv

import (
	"errors"
	"fmt"
)

// Errors returned by the store, by Apply (encoded in the result and decoded
// back by DecodeResult) and by the read API. They are named after etcd's
// server errors so the client port can map them to the same gRPC codes.
var (
	// ErrCompacted is returned when a revision below the compacted revision
	// is read, watched, hashed or compacted again.
	ErrCompacted = errors.New("mvcc: required revision has been compacted")
	// ErrFutureRev is returned when a revision above the current one is read.
	ErrFutureRev = errors.New("mvcc: required revision is a future revision")
	// ErrLeaseNotFound is returned when a command names a lease that does
	// not exist.
	ErrLeaseNotFound = errors.New("lease not found")
	// ErrLeaseExists is returned by a grant whose ID is already in use.
	ErrLeaseExists = errors.New("lease already exists")
	// ErrLeaseTTLTooLarge is returned by a grant with a TTL above MaxLeaseTTL.
	ErrLeaseTTLTooLarge = errors.New("too large lease TTL")
	// ErrLeaseIDRequired is returned by a grant with ID 0: the proposer must
	// pick the ID before proposing, apply never does.
	ErrLeaseIDRequired = errors.New("kv: lease grant needs a non-zero ID chosen by the proposer")
	// ErrDuplicateKey is returned by a txn that puts or deletes the same key
	// more than once in one branch (including nested txns), as etcd checks it.
	ErrDuplicateKey = errors.New("duplicate key given in txn request")
	// ErrKeyNotFound is returned by a put with ignore_value or ignore_lease
	// on a key that does not exist.
	ErrKeyNotFound = errors.New("key not found")
	// ErrNotReadOnly is returned by ReadTxn for a txn that writes.
	ErrNotReadOnly = errors.New("kv: txn is not read-only")
	// ErrBadCommand is returned (encoded) by Apply for a command it cannot
	// decode, and by DecodeCommand.
	ErrBadCommand = errors.New("kv: malformed command")
	// ErrBadResult is returned by DecodeResult for bytes that are not a result.
	ErrBadResult = errors.New("kv: malformed result")
	// ErrBadSnapshot is returned by Restore for a stream it cannot decode.
	ErrBadSnapshot = errors.New("kv: malformed snapshot")
	// ErrClosed is returned when the store has been closed.
	ErrClosed = errors.New("kv: store closed")
	// ErrNotPrimary is returned by Lessor.Renew and TimeToLive when the
	// lessor is not the primary (the node is not the leader).
	ErrNotPrimary = errors.New("not a primary lessor")
	// ErrNoSpace is returned by a put, a txn that puts or a lease grant
	// while the NOSPACE alarm is raised, and by Guard.Check when a write
	// would take the state past its quota (etcd's words, so clients that
	// match on them keep working).
	ErrNoSpace = errors.New("mvcc: database space exceeded")
	// ErrBadAlarm is returned for an alarm request with an unknown action
	// or alarm type, or a member ID of 0 on activation.
	ErrBadAlarm = errors.New("kv: malformed alarm request")
)

// errorCodes gives every sentinel that can cross the log its stable wire
// code. Codes are part of the result format: never renumber them.
var errorCodes = []struct {
	code uint64
	err  error
}{
	{1, ErrCompacted},
	{2, ErrFutureRev},
	{3, ErrLeaseNotFound},
	{4, ErrLeaseExists},
	{5, ErrLeaseTTLTooLarge},
	{6, ErrLeaseIDRequired},
	{7, ErrDuplicateKey},
	{8, ErrKeyNotFound},
	{9, ErrNotReadOnly},
	{10, ErrBadCommand},
	{11, ErrNoSpace},
	{12, ErrBadAlarm},
}

func codeOf(err error) uint64 {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return 0
}

func errorOf(code uint64, msg string) error {
	for _, c := range errorCodes {
		if c.code == code {
			if msg == c.err.Error() || msg == "" {
				return c.err
			}
			return fmt.Errorf("%w: %s", c.err, msg)
		}
	}
	return &ApplyError{Code: code, Msg: msg}
}

// ApplyError is an error decoded from a result whose code this version does
// not know (written by a newer member).
type ApplyError struct {
	Code uint64
	Msg  string
}

func (e *ApplyError) Error() string { return fmt.Sprintf("kv: apply error %d: %s", e.Code, e.Msg) }

// CompactedError is the error of a watcher cancelled because the history it
// needed was compacted. It matches ErrCompacted with errors.Is.
type CompactedError struct {
	CompactRev int64
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("%v (compact revision %d)", ErrCompacted, e.CompactRev)
}

// Unwrap makes errors.Is(err, ErrCompacted) true.
func (e *CompactedError) Unwrap() error { return ErrCompacted }
