package wal

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrNoSpace is matched (errors.Is) by a write refused because the file
// system is full (ENOSPC) or the user's quota is used up (EDQUOT). Unlike
// other IO errors it does not make the log refuse later writes: a write(2)
// that fails for space leaves the log as it was (the log's size and record
// offsets move only after a write and its fdatasync succeed, and the next
// batch overwrites whatever part of the failed one reached the file), so
// the caller may retry once space returns. An ENOSPC from fdatasync is
// different (the kernel may have dropped written pages) and stays fatal.
var ErrNoSpace = errors.New("wal: no space left on the data dir's file system")

// writeAt is the one place the log and stable store write file data; tests
// replace it to inject errors where a full file system cannot be mounted.
var writeAt = func(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }

// writeData writes b at off, marking a failure for space with ErrNoSpace.
func writeData(f *os.File, b []byte, off int64) error {
	_, err := writeAt(f, b, off)
	if err != nil && isNoSpace(err) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
