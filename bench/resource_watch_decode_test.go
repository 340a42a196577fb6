package bench

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestResEventFrameDecode checks the partial decoder against events
// encoded by protobuf itself: the send time of an upsert, the end of a
// snapshot, and a delete or short value that carry none.
func TestResEventFrameDecode(t *testing.T) {
	val := make([]byte, 32)
	binary.BigEndian.PutUint64(val, 1234567890123)
	upsert := func(v []byte) *pbresource.WatchEvent {
		data, _ := anypb.New(wrapperspb.Bytes(v))
		res := &pbresource.Resource{Id: resourceID(benchWatchType, "k1"), Version: "42", Data: data}
		return &pbresource.WatchEvent{Event: &pbresource.WatchEvent_Upsert_{Upsert: &pbresource.WatchEvent_Upsert{Resource: res}}}
	}
	cases := []struct {
		name string
		ev   *pbresource.WatchEvent
		want resEventFrame
	}{
		{"upsert", upsert(val), resEventFrame{sent: 1234567890123}},
		{"short value", upsert([]byte{1, 2, 3}), resEventFrame{}},
		{"end of snapshot", &pbresource.WatchEvent{Event: &pbresource.WatchEvent_EndOfSnapshot_{EndOfSnapshot: &pbresource.WatchEvent_EndOfSnapshot{}}}, resEventFrame{endOfSnapshot: true}},
		{"delete", &pbresource.WatchEvent{Event: &pbresource.WatchEvent_Delete_{Delete: &pbresource.WatchEvent_Delete{
			Resource: &pbresource.Resource{Id: resourceID(benchWatchType, "k1")}}}}, resEventFrame{}},
	}
	for _, c := range cases {
		b, err := proto.Marshal(c.ev)
		if err != nil {
			t.Fatal(err)
		}
		var f resEventFrame
		if err := f.decode(b); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if f != c.want {
			t.Fatalf("%s: got %+v, want %+v", c.name, f, c.want)
		}
	}
	var f resEventFrame
	if err := f.decode([]byte{0x0a, 0x05, 0x01}); err == nil {
		t.Fatal("a truncated event decoded without an error")
	}
}

// FuzzResEventFrameDecode feeds the partial decoder arbitrary bytes: it
// must never panic, whatever protobuf decodes as a WatchEvent with an
// upsert it must decode too, and from a canonical encoding (what a server
// sends; protobuf merges repeated messages, the frame keeps the last) it
// must find the same send time.
func FuzzResEventFrameDecode(f *testing.F) {
	val := make([]byte, 16)
	binary.BigEndian.PutUint64(val, 99)
	data, _ := anypb.New(wrapperspb.Bytes(val))
	for _, ev := range []*pbresource.WatchEvent{
		{Event: &pbresource.WatchEvent_Upsert_{Upsert: &pbresource.WatchEvent_Upsert{Resource: &pbresource.Resource{Data: data}}}},
		{Event: &pbresource.WatchEvent_EndOfSnapshot_{EndOfSnapshot: &pbresource.WatchEvent_EndOfSnapshot{}}},
	} {
		b, _ := proto.Marshal(ev)
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x05, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr resEventFrame
		err := fr.decode(b)
		var ev pbresource.WatchEvent
		if proto.Unmarshal(b, &ev) != nil || ev.GetUpsert() == nil {
			return
		}
		if err != nil {
			t.Fatalf("protobuf decodes %x, the frame decoder fails: %v", b, err)
		}
		if canon, err := (proto.MarshalOptions{Deterministic: true}).Marshal(&ev); err != nil || !bytes.Equal(canon, b) {
			return
		}
		var bv wrapperspb.BytesValue
		d := ev.GetUpsert().GetResource().GetData()
		if d == nil || proto.Unmarshal(d.Value, &bv) != nil || len(bv.Value) < 8 {
			return
		}
		if want := int64(binary.BigEndian.Uint64(bv.Value)); fr.sent != want {
			t.Fatalf("%x: sent %d, want %d", b, fr.sent, want)
		}
	})
}
