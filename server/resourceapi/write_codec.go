package resourceapi

import (
	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/resource"
)

// Unmarshal decodes a WriteRequest, the request of every write, with
// resource.UnmarshalProto: the same result as the proto codec, at a
// fraction of its reflection's cost (one of the things a resource write
// pays beyond a KV put). A request of any other shape than a single
// resource field, and every other message, goes to the proto codec.
func (c passCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if req, ok := v.(*pbresource.WriteRequest); ok {
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		ok := decodeWriteRequest(buf.ReadOnlyData(), req)
		buf.Free()
		if ok {
			return nil
		}
	}
	return c.CodecV2.Unmarshal(data, v)
}

// decodeWriteRequest fills req from b when b is one resource field and
// decodes without error; it leaves req alone and returns false otherwise.
func decodeWriteRequest(b []byte, req *pbresource.WriteRequest) bool {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != 1 || typ != protowire.BytesType {
		return false
	}
	v, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		return false
	}
	res, err := resource.UnmarshalProto(v)
	if err != nil {
		return false
	}
	proto.Reset(req)
	req.Resource = res
	return true
}
