package resource

import (
	"errors"
	"fmt"

	"github.com/hashicorp/consul/proto-public/pbresource"
)

var (
	ErrNotFound         = errors.New("resource not found")
	ErrCASFailure       = errors.New("CAS operation failed because the given version doesn't match what is stored")
	ErrWrongUid         = errors.New("resource was given a uid that does not match the existing resource's uid")
	ErrInconsistent     = errors.New("cannot satisfy consistency requirements")
	ErrHistoryCompacted = errors.New("watch history compacted past the requested version")
	ErrWatchOverflow    = errors.New("watcher fell too far behind and was closed; resume from the last version seen")
)

// HistoryCompactedError reports the oldest version still retained; it
// unwraps to ErrHistoryCompacted.
type HistoryCompactedError struct{ Oldest uint64 }

func (e HistoryCompactedError) Error() string {
	return fmt.Sprintf("%v (oldest retained version %d)", ErrHistoryCompacted, e.Oldest)
}
func (e HistoryCompactedError) Unwrap() error { return ErrHistoryCompacted }

// GroupVersionMismatchError is returned when a read names a group version
// other than the stored one; Stored is the stored resource.
type GroupVersionMismatchError struct {
	RequestedType *pbresource.Type
	Stored        *pbresource.Resource
}

func (e GroupVersionMismatchError) Error() string {
	return fmt.Sprintf("resource was requested with GroupVersion=%q, but stored with GroupVersion=%q",
		e.RequestedType.GetGroupVersion(), e.Stored.GetId().GetType().GetGroupVersion())
}

// ValidationError is a bad input, naming the offending field.
type ValidationError struct {
	Field  string
	Reason string
}

func (e ValidationError) Error() string {
	return fmt.Sprintf("invalid %q field: %s", e.Field, e.Reason)
}
