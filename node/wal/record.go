package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/hashicorp/raft"
)

// A record holds one raft.Log:
//
//	length u32 | crc32c(payload) u32 | payload (length bytes)
//
// and its payload, version 1, integers little endian:
//
//	version u8 | index u64 | term u64 | batch position u32 | type u8
//	| appended-at unix nanos i64 (0: zero time) | extensions length u32
//	| extensions | data
//
// The batch position is the entry's place in the StoreLogs batch that
// wrote it, 0 for the batch's first entry: recovery uses it to tell a torn
// final write from a damaged older one (see scan.go). The index sits at a
// fixed offset so that the search for later records can filter cheaply.
const (
	recordVersion = 1
	headerSize    = 8
	payloadFixed  = 1 + 8 + 8 + 4 + 1 + 8 + 4
	minRecordSize = headerSize + payloadFixed
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends l's record, at position pos of its batch, to b.
func appendRecord(b []byte, l *raft.Log, pos uint32) ([]byte, error) {
	if n := uint64(payloadFixed) + uint64(len(l.Extensions)) + uint64(len(l.Data)); n > math.MaxUint32 {
		return b, fmt.Errorf("wal: entry %d is %d bytes, over the 4 GiB record limit", l.Index, n)
	}
	start := len(b)
	b = binary.LittleEndian.AppendUint64(b, 0) // header, filled in below
	b = append(b, recordVersion)
	b = binary.LittleEndian.AppendUint64(b, l.Index)
	b = binary.LittleEndian.AppendUint64(b, l.Term)
	b = binary.LittleEndian.AppendUint32(b, pos)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(at))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(l.Extensions)))
	b = append(b, l.Extensions...)
	b = append(b, l.Data...)
	payload := b[start+headerSize:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b, nil
}

// checkRecord checks the framing and checksum of the record at the start
// of b and returns its size, header included. It fails with errTruncated,
// errBadLength or errChecksum: each can be the remains of a torn write.
func checkRecord(b []byte) (int, error) { return checkFrame(b, payloadFixed) }

// checkFrame checks a [length | crc32c | payload] frame at the start of b
// whose payload is at least minPayload bytes, and returns its size.
func checkFrame(b []byte, minPayload uint64) (int, error) {
	if len(b) < headerSize {
		return 0, errTruncated
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	switch {
	case n < minPayload:
		return 0, errBadLength
	case n > uint64(len(b)-headerSize):
		return 0, errTruncated
	}
	payload := b[headerSize : headerSize+n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return 0, errChecksum
	}
	return headerSize + int(n), nil
}

// appendFrame appends payload to b as a [length | crc32c | payload] frame.
func appendFrame(b, payload []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

// peekIndex returns the index a plausible record at the start of b claims,
// without checking its checksum: a cheap filter before checkRecord.
func peekIndex(b []byte) (uint64, bool) {
	if len(b) < minRecordSize {
		return 0, false
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n < payloadFixed || n > uint64(len(b)-headerSize) || b[headerSize] != recordVersion {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[headerSize+1:]), true
}

// decodePayload fills l from a checked payload. l.Data and l.Extensions
// alias p; nil when empty. It returns the entry's batch position.
func decodePayload(p []byte, l *raft.Log) (uint32, error) {
	if len(p) < payloadFixed || p[0] != recordVersion {
		return 0, errMalformed
	}
	l.Index = binary.LittleEndian.Uint64(p[1:])
	l.Term = binary.LittleEndian.Uint64(p[9:])
	pos := binary.LittleEndian.Uint32(p[17:])
	l.Type = raft.LogType(p[21])
	l.AppendedAt = time.Time{}
	if at := int64(binary.LittleEndian.Uint64(p[22:])); at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	extLen := uint64(binary.LittleEndian.Uint32(p[30:]))
	rest := p[payloadFixed:]
	if extLen > uint64(len(rest)) || uint64(pos) >= l.Index {
		return 0, errMalformed
	}
	// The full slice expression keeps an append to Extensions off Data.
	l.Extensions, l.Data = nilIfEmpty(rest[:extLen:extLen]), nilIfEmpty(rest[extLen:])
	return pos, nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
