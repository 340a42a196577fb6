package kv

// Size returns the approximate bytes held by the state: keys and values of
// every retained version plus a fixed per-version overhead. It walks the
// whole index, so it costs O(versions): for status reports, not hot paths.
func (s *Store) Size() int64 {
	const perVersion = 64 // rec fields and pointers
	var n int64
	it := s.view().keys.Iterator()
	for !it.Done() {
		_, vs, _ := it.Next()
		for _, r := range vs {
			n += int64(len(r.key)+len(r.value)) + perVersion
		}
	}
	return n
}
