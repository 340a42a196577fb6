package kv

import (
	"encoding/binary"
	"hash/crc32"
	"sort"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// compact drops history below rev, physically: for every key written at or
// below rev it keeps only the latest version at or below rev (dropped too if
// that is a tombstone) plus every later version, and it cuts the revision
// log to the versions above rev. Reads at rev itself still work; reads below
// it return ErrCompacted. Only keys with versions in the compacted part of
// the log are visited, so the cost is proportional to the history dropped.
func (w *writer) compact(r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	rev := r.Revision
	if rev <= w.st.compactRev {
		return nil, ErrCompacted
	}
	if rev > w.st.rev {
		return nil, ErrFutureRev
	}
	log := w.st.log
	cut := sort.Search(len(log), func(i int) bool { return log[i].mod > rev })
	seen := make(map[string]struct{})
	keys := w.st.keys
	for _, v := range log[:cut] {
		if _, ok := seen[v.key]; ok {
			continue
		}
		seen[v.key] = struct{}{}
		vs, _ := keys.Get(v.key)
		kept := compactVersions(vs, rev)
		for _, d := range vs[:len(vs)-len(kept)] {
			w.st.size -= recSize(d)
		}
		switch {
		case len(kept) == 0:
			keys = keys.Delete(v.key)
		case len(kept) != len(vs):
			keys = keys.Set(v.key, kept)
		}
	}
	// Copy the kept log so the dropped prefix can be freed.
	w.st.log = append(make([]*rec, 0, len(log)-cut+len(log)/8), log[cut:]...)
	w.st.keys = keys
	w.st.compactRev = rev
	return &pb.CompactionResponse{Header: w.header()}, nil
}

// compactVersions returns the versions kept when compacting at rev, in a
// new backing array.
func compactVersions(vs versions, rev int64) versions {
	i := sort.Search(len(vs), func(i int) bool { return vs[i].mod > rev })
	from := i
	if i > 0 && !vs[i-1].tombstone() {
		from = i - 1
	}
	if from == 0 {
		return vs
	}
	return append(versions(nil), vs[from:]...)
}

// hashKV hashes the stored history up to rev (0 = current) with CRC-32C.
// It covers the compacted revision, then every retained version at or below
// the compacted revision in key order, then every version (tombstones
// included) in the revision log up to rev in (revision, sub-revision)
// order; each version contributes its key, value, create and mod revisions,
// version and lease. Like etcd's HashKV, two members agree on it only if
// they compacted at the same revision. Leases are not covered.
func hashKV(st *state, rev int64) (hash uint32, hashRev int64, err error) {
	if rev <= 0 {
		rev = st.rev
	}
	if rev > st.rev {
		return 0, 0, ErrFutureRev
	}
	if rev < st.compactRev {
		return 0, 0, ErrCompacted
	}
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	var buf []byte
	buf = binary.AppendVarint(buf, st.compactRev)
	it := st.keys.Iterator()
	for !it.Done() {
		_, vs, _ := it.Next()
		if vs[0].mod <= st.compactRev {
			buf = appendRec(buf, vs[0])
			if len(buf) > 32<<10 {
				h.Write(buf)
				buf = buf[:0]
			}
		}
	}
	for _, v := range st.log {
		if v.mod > rev {
			break
		}
		buf = appendRec(buf, v)
		if len(buf) > 32<<10 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return h.Sum32(), rev, nil
}

// appendRec is the binary form of a version used by HashKV and snapshots.
func appendRec(b []byte, v *rec) []byte {
	b = binary.AppendUvarint(b, uint64(len(v.key)))
	b = append(b, v.key...)
	b = binary.AppendVarint(b, v.mod)
	b = binary.AppendVarint(b, v.version)
	if v.tombstone() {
		return b
	}
	b = binary.AppendVarint(b, v.create)
	b = binary.AppendVarint(b, v.lease)
	b = binary.AppendUvarint(b, uint64(len(v.value)))
	return append(b, v.value...)
}
