package wal

import (
	"bytes"
	"fmt"

	"github.com/hashicorp/raft"
)

// scanned is what scanSegment found in one segment file.
type scanned struct {
	offs []int64 // offset of each good record, in index order
	end  int64   // end of the last good record
	torn bool    // bytes from end on are a torn final write, to cut away
}

// scanSegment checks every record of the segment file at path, contents b,
// whose records must hold first, first+1, ... A bad record is a torn write
// only in the last segment, and only when it may belong to the final batch
// written before a crash (see tornAt); anything else is a *CorruptError.
func scanSegment(path string, b []byte, first uint64, last bool) (scanned, error) {
	var sc scanned
	want := first
	for off := 0; off < len(b); {
		n, err := checkRecord(b[off:])
		if err != nil {
			if allZero(b[off:]) {
				// The zeros written ahead of the records (segment.write):
				// the clean end. A crash can leave a batch that never
				// returned entirely unwritten there, which is the same.
				sc.end = int64(off)
				return sc, nil
			}
			if last && !laterBatchFollows(b[off+1:], want) {
				sc.end, sc.torn = int64(off), true
				return sc, nil
			}
			return sc, &CorruptError{Path: path, Offset: int64(off), Err: fmt.Errorf("entry %d: %w", want, err)}
		}
		var l raft.Log
		if _, err := decodePayload(b[off+headerSize:off+n], &l); err != nil {
			return sc, &CorruptError{Path: path, Offset: int64(off), Err: fmt.Errorf("entry %d: %w", want, err)}
		}
		if l.Index != want {
			return sc, &CorruptError{Path: path, Offset: int64(off), Err: fmt.Errorf("%w %d, want %d", errWrongIndex, l.Index, want)}
		}
		sc.offs = append(sc.offs, int64(off))
		off += n
		sc.end = int64(off)
		want++
	}
	return sc, nil
}

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroChunk))
		if !bytes.Equal(b[:n], zeroChunk[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// laterBatchFollows reports whether rest, the bytes after a bad record
// that should hold entry want, contain a good record of a batch that began
// after want.
//
// This is how a torn write is told from damage. Each StoreLogs batch is
// one write followed by one fdatasync, and the next batch is written only
// after that fdatasync returned. At a crash, then, only the final batch can
// be partly on disk, in any mix of its pages, zeros and garbage; everything
// before it was synced. A good record from a later batch than the bad one
// proves the bad one's batch was synced and has since been damaged: an
// error, never a silent truncation. Without such a record the bad record
// is in the final batch, which the crash may have torn; recovery keeps the
// good records before it and cuts the rest. (If that final batch had in
// fact been synced and then damaged on disk, nothing on disk can tell: no
// log that syncs once per batch can.)
//
// Every offset is tried, since a damaged length field hides where the next
// record starts; peekIndex rejects most offsets before any checksum.
func laterBatchFollows(rest []byte, want uint64) bool {
	maxAhead := uint64(len(rest)/minRecordSize) + 1 // records that fit in rest
	for p := 0; p+minRecordSize <= len(rest); p++ {
		idx, ok := peekIndex(rest[p:])
		if !ok || idx <= want || idx-want > maxAhead {
			continue
		}
		n, err := checkRecord(rest[p:])
		if err != nil {
			continue
		}
		var l raft.Log
		pos, err := decodePayload(rest[p+headerSize:p+n], &l)
		if err != nil {
			continue
		}
		if l.Index-uint64(pos) > want {
			return true
		}
		p += n - 1 // a good record of the bad record's own batch: skip it
	}
	return false
}
