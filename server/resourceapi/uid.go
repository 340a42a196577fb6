package resourceapi

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"time"
)

// crockford is the ULID alphabet (Crockford's base32).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newUID returns a ULID (48-bit millisecond time, 80 random bits, 26
// characters of Crockford base32), the form Consul gives resource uids,
// so tools that parse Consul's uids accept concord's.
func newUID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	// 128 bits as 26 5-bit digits, the first digit holding the top 3 bits.
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

func itoa(i int) string { return strconv.Itoa(i) }
