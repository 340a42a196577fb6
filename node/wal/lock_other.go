//go:build !unix

package wal

import "os"

// lockFile only opens path where flock(2) is not available: nothing stops
// a second process from opening the same log.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
