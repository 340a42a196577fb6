package node

import (
	"encoding/binary"
	"fmt"
)

// An envelope wraps every command in the log:
//
//	type (1 byte) | proposer (8 bytes, little endian) | seq (uvarint) | watermark (uvarint) | payload
//
// proposer is a random id drawn once per node process, seq numbers that
// proposer's commands, and watermark is the lowest seq the proposer still
// waits on. Together they let apply recognise a retried command that was
// already applied (see sessions), so a retry across a leader change never
// applies a command twice.
type envelope struct {
	typ       Type
	proposer  uint64
	seq       uint64
	watermark uint64
	payload   []byte
}

const envelopeMaxHeader = 1 + 8 + 2*binary.MaxVarintLen64

func (e *envelope) encode() []byte {
	b := make([]byte, 9, envelopeMaxHeader+len(e.payload))
	b[0] = byte(e.typ)
	binary.LittleEndian.PutUint64(b[1:9], e.proposer)
	b = binary.AppendUvarint(b, e.seq)
	b = binary.AppendUvarint(b, e.watermark)
	return append(b, e.payload...)
}

func decodeEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < 9 {
		return e, fmt.Errorf("envelope of %d bytes is too short", len(b))
	}
	e.typ = Type(b[0])
	e.proposer = binary.LittleEndian.Uint64(b[1:9])
	b = b[9:]
	var n int
	if e.seq, n = binary.Uvarint(b); n <= 0 {
		return e, fmt.Errorf("envelope seq is malformed")
	}
	b = b[n:]
	if e.watermark, n = binary.Uvarint(b); n <= 0 {
		return e, fmt.Errorf("envelope watermark is malformed")
	}
	e.payload = b[n:]
	return e, nil
}
