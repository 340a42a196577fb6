//go:build !(linux || darwin || freebsd)

package sqlstore

// dirNearlyFull cannot tell on this platform: only SQLITE_FULL and ENOSPC
// count as a full file system.
func dirNearlyFull(string) bool { return false }
