package logstore

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

// A log entry is stored as
//
//	version (1 byte) | index, term (uvarint) | type (1 byte)
//	| appended-at unix nanos (varint) | data, extensions (uvarint length + bytes)
const encodingVersion = 1

var errMalformed = errors.New("malformed log entry")

func encodeLog(b []byte, l *raft.Log) []byte {
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, l.Index)
	b = binary.AppendUvarint(b, l.Term)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.AppendVarint(b, at)
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	return append(b, l.Extensions...)
}

// decodeLog fills l from b; l's byte slices are copies (b belongs to bbolt).
func decodeLog(b []byte, l *raft.Log) error {
	if len(b) < 1 || b[0] != encodingVersion {
		return errMalformed
	}
	b = b[1:]
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	bytesField := func() ([]byte, bool) {
		n := uv()
		if b == nil || n > uint64(len(b)) {
			return nil, false
		}
		if n == 0 {
			return nil, true
		}
		v := append([]byte(nil), b[:n]...)
		b = b[n:]
		return v, true
	}
	l.Index = uv()
	l.Term = uv()
	if len(b) < 1 {
		return errMalformed
	}
	l.Type = raft.LogType(b[0])
	b = b[1:]
	at, n := binary.Varint(b)
	if n <= 0 {
		return errMalformed
	}
	b = b[n:]
	l.AppendedAt = time.Time{}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	var ok bool
	if l.Data, ok = bytesField(); !ok {
		return errMalformed
	}
	if l.Extensions, ok = bytesField(); !ok {
		return errMalformed
	}
	if len(b) != 0 {
		return errMalformed
	}
	return nil
}
