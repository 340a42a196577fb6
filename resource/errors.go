package resource

import (
	"errors"
	"fmt"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

// The sentinel errors of the store, as Consul's storage package names them.
// Every error a Backend method returns matches at most one of them (or one
// of the typed errors below) with errors.Is / errors.As, so an API face maps
// them to its wire in one place.
var (
	// ErrNotFound: no resource with that ID (or with that uid, when the
	// ID names one).
	ErrNotFound = errors.New("resource not found")
	// ErrCASFailure: the version given to WriteCAS, WriteStatus or
	// DeleteCAS is not the stored one (or is non-empty for a resource that
	// does not exist, or empty for one that does).
	ErrCASFailure = errors.New("CAS operation failed because the given version doesn't match what is stored")
	// ErrWrongUid: a write named a uid other than the stored resource's.
	ErrWrongUid = errors.New("resource was given a uid that does not match the existing resource's uid")
	// ErrInconsistent: the operation could not be done with the asked
	// consistency (no leader, no quorum, the member is shutting down, or
	// the outcome of a write is unknown). It wraps the node's error, so
	// errors.Is(err, node.ErrUnknownOutcome) still tells a write that may
	// have been applied.
	ErrInconsistent = errors.New("cannot satisfy consistency requirements")
	// ErrHistoryCompacted: a watch cannot resume from the asked version
	// (see HistoryCompactedError).
	ErrHistoryCompacted = errors.New("watch history compacted past the requested version")
	// ErrWatchOverflow: the watcher fell WatchBuffer events behind and was
	// closed; it resumes from the last version it saw.
	ErrWatchOverflow = errors.New("watcher fell too far behind and was closed; resume from the last version seen")
	// ErrWatchClosed: the watch or its store was closed.
	ErrWatchClosed = errors.New("watch closed")
)

// HistoryCompactedError reports that a watch cannot go on from the version
// it is at: the history retained does not reach back that far, or the state
// was rolled back to a snapshot (RolledBack), so that versions before
// Oldest belong to another history. The client starts a new watch (a fresh
// snapshot). It unwraps to ErrHistoryCompacted.
type HistoryCompactedError struct {
	// Oldest is the lowest version a watch can resume from now.
	Oldest uint64
	// RolledBack is set when a rollback (a restore of an older state
	// replacing the agreed one) ended the watch.
	RolledBack bool
}

func (e HistoryCompactedError) Error() string {
	if e.RolledBack {
		return fmt.Sprintf("%v: the state was rolled back to a snapshot; watch again (resumable from version %d)", ErrHistoryCompacted, e.Oldest)
	}
	return fmt.Sprintf("%v (oldest resumable version %d)", ErrHistoryCompacted, e.Oldest)
}

// Unwrap returns ErrHistoryCompacted.
func (e HistoryCompactedError) Unwrap() error { return ErrHistoryCompacted }

// GroupVersionMismatchError is returned by Read (and WriteStatus) when the ID
// names a group version other than the stored one; Stored is the stored
// resource, so the caller can translate it.
type GroupVersionMismatchError struct {
	RequestedType *pbresource.Type
	Stored        *pbresource.Resource
}

func (e GroupVersionMismatchError) Error() string {
	return fmt.Sprintf("resource was requested with GroupVersion=%q, but stored with GroupVersion=%q",
		e.RequestedType.GetGroupVersion(), e.Stored.GetId().GetType().GetGroupVersion())
}

// ValidationError is a bad input, naming the offending field (in Consul's
// request field syntax, e.g. "resource.id.name"). Nothing was written.
type ValidationError struct {
	Field  string
	Reason string
}

func (e ValidationError) Error() string {
	return fmt.Sprintf("invalid %q field: %s", e.Field, e.Reason)
}
