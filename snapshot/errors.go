package snapshot

import (
	"errors"
	"fmt"
)

// Errors returned when an archive is refused. Every error from Verify, Parse
// and Restore about the archive itself is an *Error wrapping one of these, so
// callers match them with errors.Is. Errors from the caller's own readers,
// writers, temp directory or context are returned wrapped, without a sentinel.
var (
	// ErrCorrupt means the archive is not a well-formed concord archive: bad
	// gzip or tar framing, truncation, members missing, extra, duplicated or
	// out of order, entries that are not regular files or whose names are not
	// the expected ones (links, directories, devices, "../", absolute paths),
	// malformed meta.json or SHA256SUMS, a state.bin that fails its own
	// checks, or one whose size, header or sections differ from meta.json.
	ErrCorrupt = errors.New("snapshot: corrupt archive")
	// ErrChecksum means a member's sha-256 differs from SHA256SUMS: the
	// archive was damaged or edited after it was written.
	ErrChecksum = errors.New("snapshot: checksum mismatch")
	// ErrSeal means the seal could not be checked or did not match: a wrong
	// key, a tampered SHA256SUMS.sealed, a sealed archive read without a
	// sealer, or an unsealed archive read with one.
	ErrSeal = errors.New("snapshot: seal check failed")
	// ErrVersion means the archive (or its state.bin) was written by a newer
	// format version than this build reads.
	ErrVersion = errors.New("snapshot: unsupported format version")
	// ErrTooLarge means a member or the expanded archive exceeds a limit:
	// meta.json over VerifyOptions.MaxMetaSize, state.bin over MaxStateSize,
	// or more decompressed bytes than meta.json declares (a gzip bomb).
	ErrTooLarge = errors.New("snapshot: size limit exceeded")
	// ErrKey is returned for a key file that cannot be used.
	ErrKey = errors.New("snapshot: bad key")
)

// Error reports which operation failed on which archive member.
type Error struct {
	Op     string // "write", "verify"
	Member string // the archive member involved, "" for the archive as a whole
	Err    error
}

func (e *Error) Error() string {
	if e.Member == "" {
		return fmt.Sprintf("%s archive: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s archive member %s: %v", e.Op, e.Member, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// errorf builds an *Error whose Err wraps sentinel with a detail message.
func errorf(op, member string, sentinel error, format string, args ...any) *Error {
	return &Error{Op: op, Member: member, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}
