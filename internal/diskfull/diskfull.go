// Package diskfull gives tests a directory on a small file system they can
// fill and free: a tmpfs mounted by the test where the machine allows it
// (root, or a user namespace), removed at cleanup. Where mounting is
// impossible the caller falls back to injecting ENOSPC through its own
// write seam (FS.Real is false then) and says so in its log.
package diskfull

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
)

// FS is a directory that can be filled.
type FS struct {
	// Dir is where the test keeps its data.
	Dir string
	// Real is true when Dir is on a tmpfs of its own; false means the
	// caller must inject ENOSPC itself (Fill and Free only flip Full).
	Real    bool
	full    atomic.Bool
	ballast string
}

// New mounts a tmpfs of size bytes on a fresh directory, or returns an FS
// with Real false where that is not allowed (not root, no mount(8)) or
// CONCORD_DISKFULL_INJECT is set (to run the injected path on purpose).
func New(t testing.TB, size int64) *FS {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	fs := &FS{Dir: filepath.Join(mnt, "data"), ballast: filepath.Join(mnt, "ballast")}
	switch {
	case os.Getenv("CONCORD_DISKFULL_INJECT") != "":
		t.Log("CONCORD_DISKFULL_INJECT set: injecting ENOSPC instead of mounting a tmpfs")
	case os.Geteuid() == 0:
		out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", mnt).CombinedOutput()
		if err == nil {
			fs.Real = true
			t.Cleanup(func() {
				if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
					t.Errorf("umount %s: %v: %s", mnt, err, out)
				}
			})
		} else {
			t.Logf("cannot mount a tmpfs (%v: %s): injecting ENOSPC instead", err, out)
		}
	default:
		t.Log("not root: cannot mount a tmpfs, injecting ENOSPC instead")
	}
	if err := os.Mkdir(fs.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return fs
}

// Fill takes all free space (a real FS: a ballast file written until
// ENOSPC).
func (fs *FS) Fill(t testing.TB) {
	t.Helper()
	fs.full.Store(true)
	if !fs.Real {
		return
	}
	f, err := os.OpenFile(fs.ballast, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", fs.ballast, err)
			}
			break
		}
	}
	// A few bytes may still fit in a partly used page: take them too.
	for n := 2048; n > 0; n /= 2 {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}

// Full reports whether the FS is between Fill and Free: where Real is
// false, the caller's seam fails writes under Dir while it is true.
func (fs *FS) Full() bool { return fs.full.Load() }

// Free gives the space back.
func (fs *FS) Free(t testing.TB) {
	t.Helper()
	fs.full.Store(false)
	if !fs.Real {
		return
	}
	if err := os.Remove(fs.ballast); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}
