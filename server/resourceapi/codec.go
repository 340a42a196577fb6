package resourceapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	// Consul's public resource types and protobuf's well-known types: the
	// data of these reads and prints as JSON fields.
	_ "github.com/hashicorp/consul/proto-public/pbmulticluster/v2"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// The JSON form of a resource is proto-JSON (protojson) of
// pbresource.Resource, with unknown fields rejected, except for "data":
//
//   - {"@type": URL, ...fields} when this server knows the message type
//     (protojson's Any);
//   - {"@type": URL, "@value": BASE64} for a type it does not know: the
//     Any's bytes, stored and returned as given;
//   - {...fields} without "@type", as in `consul resource apply` files:
//     the message named by Consul's convention from the resource's type
//     (hashicorp.consul.<group>.<group_version>.<Kind>) when known, else a
//     google.protobuf.Struct holding the fields.
const (
	anyTypeKey  = "@type"
	anyValueKey = "@value"
)

// UnmarshalResource decodes a resource from its JSON form. Unknown fields
// and malformed data are a *RequestError.
func UnmarshalResource(b []byte) (*pbresource.Resource, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, badField("", "resource is not a JSON object: %v", err)
	}
	if top == nil {
		return nil, badField("resource", "required")
	}
	rawData, hasData := top["data"]
	delete(top, "data")
	rest, err := json.Marshal(top)
	if err != nil {
		return nil, err
	}
	res := &pbresource.Resource{}
	if err := protojson.Unmarshal(rest, res); err != nil {
		return nil, &RequestError{Reason: "resource: " + err.Error()}
	}
	if hasData {
		if res.Data, err = unmarshalData(rawData, res.GetId().GetType()); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// unmarshalData decodes the "data" field (see the JSON form above).
func unmarshalData(raw json.RawMessage, typ *pbresource.Type) (*anypb.Any, error) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, badField("data", "must be a JSON object: %v", err)
	}
	if rawURL, ok := fields[anyTypeKey]; ok {
		var url string
		if err := json.Unmarshal(rawURL, &url); err != nil {
			return nil, badField("data.@type", "must be a string")
		}
		name, err := anyMessageName(url)
		if err != nil {
			return nil, err
		}
		if _, err := protoregistry.GlobalTypes.FindMessageByName(name); err == nil {
			out := &anypb.Any{}
			if err := protojson.Unmarshal(raw, out); err != nil {
				return nil, badField("data", "%v", err)
			}
			return out, nil
		}
		return opaqueData(url, fields)
	}
	var msg proto.Message
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(conventionalName(typ)); err == nil && typ != nil {
		msg = mt.New().Interface()
	} else {
		msg = &structpb.Struct{}
	}
	if err := protojson.Unmarshal(raw, msg); err != nil {
		return nil, badField("data", "%v", err)
	}
	// Deterministic, so that the same JSON always stores the same bytes.
	out := &anypb.Any{}
	if err := anypb.MarshalFrom(out, msg, proto.MarshalOptions{Deterministic: true}); err != nil {
		return nil, badField("data", "%v", err)
	}
	return out, nil
}

// opaqueData is the Any of a type this server does not know.
func opaqueData(url string, fields map[string]json.RawMessage) (*anypb.Any, error) {
	rawValue, ok := fields[anyValueKey]
	if !ok || len(fields) != 2 {
		return nil, badField("data", "type %q is not known to this server: give the message's bytes as {\"@type\": ..., \"@value\": BASE64}", url)
	}
	var enc string
	if err := json.Unmarshal(rawValue, &enc); err != nil {
		return nil, badField("data.@value", "must be a base64 string")
	}
	value, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, badField("data.@value", "must be base64: %v", err)
	}
	return &anypb.Any{TypeUrl: url, Value: value}, nil
}

// conventionalName is the protobuf message Consul uses for a type.
func conventionalName(t *pbresource.Type) protoreflect.FullName {
	return protoreflect.FullName(fmt.Sprintf("hashicorp.consul.%s.%s.%s", t.GetGroup(), t.GetGroupVersion(), t.GetKind()))
}

// MarshalResource encodes res in its JSON form, compact.
func MarshalResource(res *pbresource.Resource) ([]byte, error) {
	bare := proto.Clone(res).(*pbresource.Resource)
	bare.Data = nil
	b, err := protojson.Marshal(bare)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil { // protojson's spacing is randomised
		return nil, err
	}
	if res.GetData() == nil {
		return out.Bytes(), nil
	}
	data, err := marshalData(res.Data)
	if err != nil {
		return nil, err
	}
	out.Truncate(out.Len() - 1) // the closing brace
	if out.Len() > 1 {
		out.WriteByte(',')
	}
	out.WriteString(`"data":`)
	if err := json.Compact(&out, data); err != nil {
		return nil, err
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

func marshalData(data *anypb.Any) ([]byte, error) {
	if name, err := anyMessageName(data.TypeUrl); err == nil {
		if _, err := protoregistry.GlobalTypes.FindMessageByName(name); err == nil {
			if b, err := protojson.Marshal(data); err == nil {
				return b, nil
			}
		}
	}
	return json.Marshal(map[string]string{anyTypeKey: data.TypeUrl, anyValueKey: base64.StdEncoding.EncodeToString(data.Value)})
}

// MarshalResources encodes a list answer: {"resources": [...]}, in order.
func MarshalResources(list []*pbresource.Resource) ([]byte, error) {
	var out bytes.Buffer
	out.WriteString(`{"resources":[`)
	for i, r := range list {
		b, err := MarshalResource(r)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out.WriteByte(',')
		}
		out.Write(b)
	}
	out.WriteString("]}")
	return out.Bytes(), nil
}

// UnmarshalResources decodes a list answer.
func UnmarshalResources(b []byte) ([]*pbresource.Resource, error) {
	var list struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	out := make([]*pbresource.Resource, 0, len(list.Resources))
	for _, raw := range list.Resources {
		r, err := UnmarshalResource(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return slices.Clip(out), nil
}
