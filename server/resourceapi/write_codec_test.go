package resourceapi

import (
	"testing"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// checkWriteRequestCodec: the registered proto codec decodes b into a
// WriteRequest exactly as proto.Unmarshal does, failing when it fails.
func checkWriteRequestCodec(t *testing.T, b []byte) {
	t.Helper()
	want := &pbresource.WriteRequest{}
	wantErr := proto.Unmarshal(b, want)
	got := &pbresource.WriteRequest{}
	err := encoding.GetCodecV2("proto").Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("%x: codec error %v, proto.Unmarshal error %v", b, err, wantErr)
	case err == nil && !proto.Equal(got, want):
		t.Fatalf("%x: codec gave %v, proto.Unmarshal %v", b, got, want)
	}
}

func writeRequestSamples() [][]byte {
	data, _ := anypb.New(wrapperspb.String("Korn"))
	res := &pbresource.Resource{Id: &pbresource.ID{Name: "korn", Type: &pbresource.Type{Group: "demo", GroupVersion: "v2", Kind: "Artist"},
		Tenancy: &pbresource.Tenancy{Partition: "default", Namespace: "default"}}, Version: "7", Data: data, Metadata: map[string]string{"k": "v"}}
	full, _ := proto.Marshal(&pbresource.WriteRequest{Resource: res})
	empty, _ := proto.Marshal(&pbresource.WriteRequest{Resource: &pbresource.Resource{}})
	unknown := protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), full...), 9, protowire.BytesType), []byte("x"))
	return [][]byte{full, empty, unknown, append(append([]byte(nil), full...), full...), nil, {0xff}, full[:len(full)-1]}
}

// TestWriteRequestCodecLikeProto: well-formed, repeated, unknown,
// truncated and empty requests decode as with proto.Unmarshal.
func TestWriteRequestCodecLikeProto(t *testing.T) {
	for _, b := range writeRequestSamples() {
		checkWriteRequestCodec(t, b)
	}
	// The usual request takes the fast path.
	if !decodeWriteRequest(writeRequestSamples()[0], &pbresource.WriteRequest{}) {
		t.Fatal("a plain WriteRequest was left to the proto codec")
	}
}

// FuzzWriteRequestCodec holds the WriteRequest decoding to proto.Unmarshal.
func FuzzWriteRequestCodec(f *testing.F) {
	for _, b := range writeRequestSamples() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkWriteRequestCodec(t, b) })
}
