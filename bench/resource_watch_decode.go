package bench

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// resWatchCodec sends the WatchListRequest as gRPC's proto codec does and
// decodes each WatchEvent into a resEventFrame: only what the benchmark
// reads, without building the Resource and its Any. Its name is "proto",
// so the server sees an ordinary proto stream. With 1,000 watchers at 100
// writes/s the load generator reads 100,000 events a second on the same
// machine as the members; a full decode per event would take CPU from
// them.
type resWatchCodec struct{}

var _ encoding.CodecV2 = resWatchCodec{}

func (resWatchCodec) Name() string { return "proto" }

func (resWatchCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("bench: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (resWatchCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*resEventFrame)
	if !ok {
		return fmt.Errorf("bench: cannot unmarshal into %T", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return f.decode(buf.ReadOnlyData())
}

// resEventFrame is what the benchmark reads of one WatchEvent.
type resEventFrame struct {
	endOfSnapshot bool
	// sent is the send time a writer put in the first 8 bytes of an
	// upserted resource's data (a BytesValue), or 0.
	sent int64
}

// Field numbers of pbresource's WatchEvent, WatchEvent.Upsert, Resource,
// google.protobuf.Any and BytesValue.
const (
	weUpsert        = 1
	weEndOfSnapshot = 3
	wuResource      = 1
	resData         = 7
	anyValue        = 2
	bytesValue      = 1
)

// decode fills f from one encoded WatchEvent.
func (f *resEventFrame) decode(b []byte) error {
	*f = resEventFrame{}
	var upsert []byte
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == weUpsert && typ == protowire.BytesType:
			upsert = v
		case num == weEndOfSnapshot:
			f.endOfSnapshot = true
		}
		return nil
	})
	if err != nil || upsert == nil {
		return err
	}
	// Upsert.resource.data.value.value: the innermost bytes. The Any's
	// value is opaque to a WatchEvent's decoder: bytes that are not a
	// BytesValue only mean no send time.
	for _, want := range []protowire.Number{wuResource, resData, anyValue, bytesValue} {
		var next []byte
		if err := eachField(upsert, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
			if num == want && typ == protowire.BytesType {
				next = v
			}
			return nil
		}); err != nil {
			if want == bytesValue {
				return nil
			}
			return err
		}
		if next == nil {
			return nil
		}
		upsert = next
	}
	if len(upsert) >= 8 {
		f.sent = int64(binary.BigEndian.Uint64(upsert))
	}
	return nil
}
