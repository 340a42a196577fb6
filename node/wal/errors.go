package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned by Get for a key never set. Its text is
	// exactly "not found" because hashicorp/raft recognises a missing key
	// by comparing err.Error() with that string.
	ErrNotFound = errors.New("not found")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("wal: closed")
	// ErrNotContiguous is returned by StoreLogs for a batch whose indexes do
	// not follow the log's last index one by one; the log is unchanged.
	ErrNotContiguous = errors.New("wal: entries not contiguous with the log")
	// ErrMiddleDelete is returned by DeleteRange for a range that is neither
	// a prefix nor a suffix of the log; raft never asks for one.
	ErrMiddleDelete = errors.New("wal: only a prefix or a suffix of the log can be deleted")
	// ErrCorrupt is matched (errors.Is) by every *CorruptError.
	ErrCorrupt = errors.New("wal: corrupt")
)

// Reasons a record fails to parse. The first three can be the bytes of a
// write torn by a crash (see scan.go); errMalformed and errWrongIndex are
// found only behind a valid checksum, so a torn write never explains them.
var (
	errTruncated  = errors.New("record runs past the end of the file")
	errBadLength  = errors.New("record length too small")
	errChecksum   = errors.New("checksum mismatch")
	errMalformed  = errors.New("malformed payload")
	errWrongIndex = errors.New("unexpected index")
)

// CorruptError reports data on disk that Open or GetLog cannot trust and
// that a crash cannot have produced: the log refuses it rather than drop
// entries raft may have counted as committed.
type CorruptError struct {
	Path   string // the file
	Offset int64  // byte offset of the bad record or field; -1 for the whole file
	Err    error  // what is wrong
}

func (e *CorruptError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("wal: %s: corrupt: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("wal: %s: corrupt record at offset %d: %v", e.Path, e.Offset, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCorrupt) true for every CorruptError.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
