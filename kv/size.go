package kv

// perVersion is the fixed cost Size charges each stored version on top of
// its key and value bytes: the rec's fields and the pointers to it from the
// key index and the revision log.
const perVersion = 64

// recSize is what one version adds to Size.
func recSize(r *rec) int64 { return int64(len(r.key)+len(r.value)) + perVersion }

// Size returns the approximate bytes held by the state: the key and value of
// every retained version (tombstones included) plus perVersion each. Leases
// and the index's own nodes are not counted. Apply keeps it up to date (a
// put or delete adds its version, a compaction subtracts what it drops;
// Restore recounts), so it costs O(1) and the quota guard reads it before
// every write. Keys shared between versions are counted once per version,
// so it overstates the memory a long history of one key uses.
func (s *Store) Size() int64 { return s.view().size }
