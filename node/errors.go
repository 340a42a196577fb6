package node

import (
	"errors"
	"fmt"
)

// Errors returned by the node. Callers match them with errors.Is; the server
// maps them to the wire in one place.
var (
	// ErrNotLeader is returned by leader-only operations on a follower.
	ErrNotLeader = errors.New("node: not the leader")
	// ErrNoLeader is returned when no leader was known within LeaderTimeout.
	ErrNoLeader = errors.New("node: no leader")
	// ErrShutdown is returned by every call after Shutdown.
	ErrShutdown = errors.New("node: shut down")
	// ErrRemoved is returned when this node is no longer a member of its
	// cluster: it was removed and must be wiped before it can join again.
	ErrRemoved = errors.New("node: removed from the cluster")
	// ErrUnknownOutcome is returned when a command was handed to the log but
	// its fate is unknown (the caller's context ended, or the leader changed
	// and every retry was used up). It may or may not have been applied.
	ErrUnknownOutcome = errors.New("node: command outcome unknown")
	// ErrTimeout is returned when an operation did not finish in time.
	ErrTimeout = errors.New("node: timed out")
	// ErrUnknownType is returned for a command whose state machine type is
	// not registered.
	ErrUnknownType = errors.New("node: unknown state machine type")
	// ErrDuplicate is the result of a command that was already applied or
	// abandoned by its proposer and arrived again; it was not applied twice.
	ErrDuplicate = errors.New("node: duplicate command")
	// ErrBadSnapshot is returned when a snapshot stream is malformed.
	ErrBadSnapshot = errors.New("node: malformed snapshot")
	// ErrMember is returned when a membership change is refused.
	ErrMember = errors.New("node: membership change refused")
	// ErrNoMember is the ErrMember of a change to a member that is not (or
	// no longer) in the configuration.
	ErrNoMember = fmt.Errorf("%w: no such member", ErrMember)
)

// RemoteError is an error reported by another node over the internal RPC.
type RemoteError struct {
	Node string // the node that reported it
	Err  error  // a sentinel above when the code was known, else a plain error
}

func (e *RemoteError) Error() string { return fmt.Sprintf("node %s: %v", e.Node, e.Err) }

func (e *RemoteError) Unwrap() error { return e.Err }

// Error codes carried by the internal RPC and the session table.
const (
	codeOK byte = iota
	codeNotLeader
	codeNoLeader
	codeShutdown
	codeRemoved
	codeUnknownOutcome
	codeTimeout
	codeUnknownType
	codeDuplicate
	codeBadSnapshot
	codeMember
	codeNoMember
	codeOther
)

var codeErrors = []error{nil, ErrNotLeader, ErrNoLeader, ErrShutdown, ErrRemoved, ErrUnknownOutcome,
	ErrTimeout, ErrUnknownType, ErrDuplicate, ErrBadSnapshot, ErrMember, ErrNoMember, ErrDiskFull}

func errCode(err error) byte {
	if err == nil {
		return codeOK
	}
	// Later sentinels are more specific (ErrNoMember is an ErrMember):
	// match them first.
	for code := len(codeErrors) - 1; code > 0; code-- {
		if errors.Is(err, codeErrors[code]) {
			return byte(code)
		}
	}
	return codeOther
}

// codeErr turns a code and message back into an error that matches the
// original sentinel with errors.Is.
func codeErr(code byte, msg string) error {
	if code == codeOK {
		return nil
	}
	if int(code) < len(codeErrors) {
		sentinel := codeErrors[code]
		if msg == "" || msg == sentinel.Error() {
			return sentinel
		}
		return &wireError{msg: msg, sentinel: sentinel}
	}
	if msg == "" {
		msg = fmt.Sprintf("error code %d", code)
	}
	return errors.New(msg)
}

// wireError keeps a remote error's full message while matching its sentinel.
type wireError struct {
	msg      string
	sentinel error
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.sentinel }
