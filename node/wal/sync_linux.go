//go:build linux

package wal

import (
	"os"
	"syscall"
)

// fdatasync calls fdatasync(2): unlike fsync it skips metadata that reading
// the data back does not need (timestamps), which saves a journal write per
// append batch.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = syscall.Fdatasync(int(fd)); serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
