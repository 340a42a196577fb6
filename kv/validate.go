package kv

import (
	"io"

	"github.com/concord-db/concord/node"
)

var _ node.SnapshotValidator = (*Store)(nil)

// ValidateSnapshot decodes a snapshot section into a scratch store and
// discards it: the live store is untouched. It costs memory in proportion
// to the snapshot, like the restore it stands in for.
func (s *Store) ValidateSnapshot(r io.Reader) error {
	scratch := New(Options{MinLeaseTTL: s.opts.MinLeaseTTL})
	defer scratch.Close()
	return scratch.Restore(r)
}
