package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
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

// writeFault, if set, is asked before every data write (SetWriteFault).
var writeFault atomic.Pointer[func(path string) error]

// SetWriteFault makes every log and stable store write that would grow a
// file for which fault returns an error fail with it, after writing half
// its bytes (a short write, as a full file system does): for tests of
// other packages where a small file system cannot be mounted. restore
// undoes it. Not for production use.
func SetWriteFault(fault func(path string) error) (restore func()) {
	prev := writeFault.Swap(&fault)
	return func() { writeFault.Store(prev) }
}

// writeData writes b at off, marking a failure for space with ErrNoSpace.
func writeData(f *os.File, b []byte, off int64) error {
	var err error
	if fault := writeFault.Load(); fault != nil {
		// As on a full file system, only a write that grows the file
		// needs space: writes into zeros allocated ahead go on working.
		if st, serr := f.Stat(); serr != nil || off+int64(len(b)) > st.Size() {
			if err = (*fault)(f.Name()); err != nil {
				f.WriteAt(b[:len(b)/2], off)
			}
		}
	}
	if err == nil {
		_, err = writeAt(f, b, off)
	}
	if err != nil && isNoSpace(err) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// probeFile is where CheckSpace writes; Open removes it if a crash left it
// (tmpSuffix).
const probeFile = "space-probe" + tmpSuffix

// CheckSpace reports whether the log in dir can grow again after
// ErrNoSpace: it writes, syncs and removes a file the size of the log's
// next preallocation (plus a margin), through the same write path as the
// log (so SetWriteFault applies). It returns ErrNoSpace (wrapped) while
// the file system is still full.
func CheckSpace(dir string) error {
	path := filepath.Join(dir, probeFile)
	defer os.Remove(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		if isNoSpace(err) {
			return fmt.Errorf("%w: %w", ErrNoSpace, err)
		}
		return err
	}
	defer f.Close()
	if err := writeData(f, zeroChunk[:preallocChunk], 0); err != nil {
		return err
	}
	if err := writeData(f, zeroChunk[:64<<10], preallocChunk); err != nil {
		return err
	}
	return datasync(f)
}
