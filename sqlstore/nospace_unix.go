//go:build linux || darwin || freebsd

package sqlstore

import "golang.org/x/sys/unix"

// lowSpaceBytes is the free space under which an I/O error while applying
// is taken for a full file system.
const lowSpaceBytes = 1 << 20

// dirNearlyFull reports whether dir's file system has (almost) no space
// left for this user: SQLite's default VFS reports a write that failed
// with ENOSPC as a plain I/O error, not always with the system error.
func dirNearlyFull(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return uint64(st.Bavail)*uint64(st.Bsize) < lowSpaceBytes
}
