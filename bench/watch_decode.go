package bench

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// watchCodec sends requests as gRPC's proto codec does and decodes each
// WatchResponse into a watchFrame: only the fields the watch benchmark
// reads, without allocating per event. Its name is "proto", so the server
// sees an ordinary proto stream.
type watchCodec struct{}

var _ encoding.CodecV2 = watchCodec{}

func (watchCodec) Name() string { return "proto" }

func (watchCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(interface{ Marshal() ([]byte, error) })
	if !ok {
		return nil, fmt.Errorf("bench: cannot marshal %T", v)
	}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (watchCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*watchFrame)
	if !ok {
		return fmt.Errorf("bench: cannot unmarshal into %T", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return f.decode(buf.ReadOnlyData())
}

// watchFrame is what the benchmark reads of one WatchResponse.
type watchFrame struct {
	created, canceled bool
	cancelReason      string
	// sent holds, per event whose value has at least 8 bytes, the send
	// time the writer put in its first 8 (UnixNano, big endian).
	sent []int64
}

func (f *watchFrame) reset() { *f = watchFrame{sent: f.sent[:0]} }

// Field numbers of etcd's WatchResponse, Event and KeyValue.
const (
	wrCreated      = 3
	wrCanceled     = 4
	wrCancelReason = 6
	wrEvents       = 11
	evKV           = 2
	kvValue        = 5
)

var errBadFrame = errors.New("bench: malformed WatchResponse")

func (f *watchFrame) decode(b []byte) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == wrCreated && typ == protowire.VarintType:
			f.created = x != 0
		case num == wrCanceled && typ == protowire.VarintType:
			f.canceled = x != 0
		case num == wrCancelReason && typ == protowire.BytesType:
			f.cancelReason = string(v)
		case num == wrEvents && typ == protowire.BytesType:
			if sent, ok, err := eventSendTime(v); err != nil {
				return err
			} else if ok {
				f.sent = append(f.sent, sent)
			}
		}
		return nil
	})
}

// eventSendTime returns the send time in an encoded Event's value.
func eventSendTime(ev []byte) (sent int64, ok bool, err error) {
	err = eachField(ev, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != evKV || typ != protowire.BytesType {
			return nil
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
			if num == kvValue && typ == protowire.BytesType && len(v) >= 8 {
				sent, ok = int64(binary.BigEndian.Uint64(v)), true
			}
			return nil
		})
	})
	return sent, ok, err
}

// eachField calls fn for every field of an encoded message: v is the
// payload of a length-delimited field, x the value of a varint.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadFrame
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errBadFrame
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
