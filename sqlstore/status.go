package sqlstore

import (
	"os"
	"path/filepath"
)

// Status reports the database's size on disk (file plus WAL) and the
// applied raft index, for /v1/status.
func (s *Store) Status() Status {
	main := filepath.Join(s.cfg.Dir, dbFileName)
	var size int64
	for _, p := range []string{main, main + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			size += fi.Size()
		}
	}
	return Status{SizeBytes: size, AppliedIndex: s.AppliedIndex()}
}
