package kv

// Size returns the approximate bytes held by the retained history (keys and
// values of every version, plus a fixed per-version overhead). It walks the
// history, so it costs O(versions): meant for status reports, not hot paths.
func (s *Store) Size() int64 {
	const perVersion = 64 // rec fields and pointers
	var n int64
	for _, r := range s.view().log {
		n += int64(len(r.key)+len(r.value)) + perVersion
	}
	return n
}
