package resource

import (
	"unicode/utf8"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Decoding a write's resource in apply. Every member decodes every write,
// and proto.Unmarshal spends 17 allocations and its reflection-driven
// decoder on a bench-sized resource, a large part of what a resource write
// costs beyond a KV put. decodeResource reads the shape the proposer's
// deterministic marshalling produces (an ID with type and tenancy, an
// owner, version, generation, metadata and data, each field at most once,
// known fields only, valid UTF-8) straight into one allocation, and shares
// the strings that recur between resources (type, tenancy, type URL).
// Anything else (a status map, an unknown or repeated field, a field of an
// unexpected wire type, invalid UTF-8) is decoded by proto.Unmarshal, so
// the result is always the one proto.Unmarshal gives: FuzzDecodeResource
// holds the two to that.

// resourceParts is a decoded resource's messages, allocated together.
type resourceParts struct {
	res  pbresource.Resource
	id   idParts
	data anypb.Any
}

// idParts is an ID's messages, allocated together.
type idParts struct {
	id      pbresource.ID
	typ     pbresource.Type
	tenancy pbresource.Tenancy
}

// interner shares the strings that most resources repeat. It belongs to
// one Store and is used only by apply, which runs on one goroutine.
type interner struct{ m map[string]string }

const (
	maxInterned    = 4096 // strings kept; later ones are not shared
	maxInternedLen = 128  // longer strings are not shared
)

func newInterner() *interner { return &interner{m: make(map[string]string)} }

// str returns b as a string, shared when it has been seen before, and
// false if b is not valid UTF-8 (which proto.Unmarshal refuses).
func (in *interner) str(b []byte) (string, bool) {
	if in == nil || len(b) > maxInternedLen {
		return plainString(b)
	}
	if s, ok := in.m[string(b)]; ok { // no allocation: the lookup does not keep its key
		return s, true
	}
	s, ok := plainString(b)
	if ok && len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s, ok
}

func plainString(b []byte) (string, bool) {
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// decodeResource decodes a marshalled pbresource.Resource as
// proto.Unmarshal does. in may be nil.
func decodeResource(b []byte, in *interner) (*pbresource.Resource, error) {
	if r, ok := decodeResourceFast(b, in); ok {
		return r, nil
	}
	r := &pbresource.Resource{}
	if err := proto.Unmarshal(b, r); err != nil {
		return nil, err
	}
	return r, nil
}

// wireFields reads a message's fields, calling field with each one's
// number and bytes. Every field must be length-delimited, and a number
// for which once reports true may occur only once; it returns false
// otherwise, or when field does, or on malformed input.
func wireFields(b []byte, once func(protowire.Number) bool, field func(protowire.Number, []byte) bool) bool {
	var seen uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType || num >= 64 {
			return false
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if once(num) {
			if seen&(1<<num) != 0 {
				return false
			}
			seen |= 1 << num
		}
		if !field(num, v) {
			return false
		}
	}
	return true
}

func always(protowire.Number) bool { return true }

func decodeResourceFast(b []byte, in *interner) (*pbresource.Resource, bool) {
	p := &resourceParts{}
	r := &p.res
	ok := wireFields(b, func(n protowire.Number) bool { return n != 5 }, func(n protowire.Number, v []byte) bool {
		var ok bool
		switch n {
		case 1:
			r.Id, ok = &p.id.id, decodeIDFast(v, &p.id, in)
		case 2:
			owner := &idParts{}
			r.Owner, ok = &owner.id, decodeIDFast(v, owner, in)
		case 3:
			r.Version, ok = plainString(v)
		case 4:
			r.Generation, ok = plainString(v)
		case 5:
			ok = decodeMetadataEntry(v, r)
		case 7:
			r.Data, ok = &p.data, decodeAnyFast(v, &p.data, in)
		}
		return ok
	})
	if !ok {
		return nil, false
	}
	return r, true
}

func decodeIDFast(b []byte, p *idParts, in *interner) bool {
	id := &p.id
	return wireFields(b, always, func(n protowire.Number, v []byte) bool {
		var ok bool
		switch n {
		case 1:
			id.Uid, ok = plainString(v)
		case 2:
			id.Name, ok = plainString(v)
		case 3:
			id.Type = &p.typ
			ok = decodeStrings(v, in, &p.typ.Group, &p.typ.GroupVersion, &p.typ.Kind)
		case 4:
			id.Tenancy = &p.tenancy
			ok = decodeStrings(v, in, &p.tenancy.Partition, &p.tenancy.Namespace)
		}
		return ok
	})
}

// decodeStrings reads a message whose fields 1 to len(dst) are strings
// into dst, sharing them through in (nil for none).
func decodeStrings(b []byte, in *interner, dst ...*string) bool {
	return wireFields(b, always, func(n protowire.Number, v []byte) bool {
		if int(n) > len(dst) {
			return false
		}
		var ok bool
		*dst[n-1], ok = in.str(v)
		return ok
	})
}

func decodeAnyFast(b []byte, a *anypb.Any, in *interner) bool {
	return wireFields(b, always, func(n protowire.Number, v []byte) bool {
		var ok bool
		switch n {
		case 1:
			a.TypeUrl, ok = in.str(v)
		case 2:
			// As proto.Unmarshal: a copy, nil when empty.
			a.Value, ok = append([]byte(nil), v...), true
		}
		return ok
	})
}

// decodeMetadataEntry adds one map entry (key 1, value 2, either may be
// absent) to r.Metadata. A key seen before is left to proto.Unmarshal.
func decodeMetadataEntry(b []byte, r *pbresource.Resource) bool {
	var key, val string
	if !decodeStrings(b, nil, &key, &val) {
		return false
	}
	if r.Metadata == nil {
		r.Metadata = make(map[string]string)
	}
	if _, dup := r.Metadata[key]; dup {
		return false
	}
	r.Metadata[key] = val
	return true
}

// UnmarshalProto decodes a marshalled pbresource.Resource with the result
// and errors of proto.Unmarshal, without its reflection for the usual
// shape (see decodeResource). It is safe for concurrent use; strings are
// not shared.
func UnmarshalProto(b []byte) (*pbresource.Resource, error) { return decodeResource(b, nil) }
