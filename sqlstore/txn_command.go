package sqlstore

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"
)

// txnCommandVersion marks the log command of an interactive transaction's
// commit: a plain write's encoding (version byte 2 instead of 1) followed
// by one result hash per statement.
const txnCommandVersion = 2

// resultHash is the SHA-256 of one statement's result as a client saw it:
// its columns and rows, or its last insert id and affected count, or its
// error. The time it took is not part of it.
type resultHash [sha256.Size]byte

// encodeTxnCommand renders a commit: c's statements and c.Check, which
// has one hash per statement.
func encodeTxnCommand(c command) ([]byte, error) {
	b, err := encodeRequest(txnCommandVersion, c)
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(c.Check)))
	for _, h := range c.Check {
		b = append(b, h[:]...)
	}
	return b, nil
}

// hashes reads a commit's result hashes; there must be exactly want.
func (d *decoder) hashes(want int) []resultHash {
	n := d.uvarint("hash count")
	if d.err != nil || n != uint64(want) || n > uint64(len(d.b))/sha256.Size {
		d.fail("result hashes")
		return nil
	}
	out := make([]resultHash, n)
	for i := range out {
		copy(out[i][:], d.b[:sha256.Size])
		d.b = d.b[sha256.Size:]
	}
	return out
}

// resultHasher accumulates a result's hash while its rows stream past, so
// re-running a transaction's earlier statements never holds their rows.
type resultHasher struct {
	h   hash.Hash
	buf []byte
}

func newResultHasher(columns []string) *resultHasher {
	rh := &resultHasher{h: sha256.New()}
	rh.buf = append(rh.buf[:0], 'C')
	rh.buf = binary.AppendUvarint(rh.buf, uint64(len(columns)))
	for _, c := range columns {
		rh.buf = appendString(rh.buf, c)
	}
	rh.flush()
	return rh
}

func (rh *resultHasher) flush() {
	rh.h.Write(rh.buf)
	rh.buf = rh.buf[:0]
}

// row adds one row's values (nil, int64, float64, string or []byte).
func (rh *resultHasher) row(vals []any) {
	rh.buf = append(rh.buf, 'R')
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			rh.buf = append(rh.buf, tagNull)
		case int64:
			rh.buf = binary.AppendVarint(append(rh.buf, tagInt), x)
		case float64:
			rh.buf = binary.BigEndian.AppendUint64(append(rh.buf, tagFloat), math.Float64bits(x))
		case string:
			rh.buf = appendString(append(rh.buf, tagText), x)
		case []byte:
			rh.buf = appendString(append(rh.buf, tagBlob), string(x))
		}
	}
	rh.flush()
}

// sum ends the hash with the write counters of a statement without rows.
func (rh *resultHasher) sum(lastInsertID, rowsAffected int64) resultHash {
	rh.buf = append(rh.buf, 'W')
	rh.buf = binary.AppendVarint(rh.buf, lastInsertID)
	rh.buf = binary.AppendVarint(rh.buf, rowsAffected)
	rh.flush()
	var out resultHash
	rh.h.Sum(out[:0])
	return out
}

// errorHash is the hash of a statement that failed: the client saw only
// SQLite's error text.
func errorHash(msg string) resultHash {
	return sha256.Sum256(append([]byte{'E'}, msg...))
}
