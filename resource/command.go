package resource

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
)

// A command is one write proposed through the log. Its encoding is
//
//	version (1 byte, commandVersion) | op (1 byte) | fields
//
// where every field is a uvarint, or a uvarint length and that many bytes
// (strings and deterministic protobuf encodings):
//
//	opWrite:  maxBytes, candidate uid, generation, Resource
//	opStatus: ID, version, key, Status
//	opDelete: ID, version
//	opUpsert: maxBytes, candidate uid, generation, Resource
//
// Everything apply needs that is not a function of the state is carried:
// the uid a created resource gets and the generation a changed one gets are
// drawn by the proposer, and so is the size cap (see applyWrite).
const commandVersion = 1

type op byte

const (
	opWrite  op = 1
	opStatus op = 2
	opDelete op = 3
	// opUpsert is a write with the conventions of Consul's resource
	// service (Backend.Write): an empty version writes over whatever is
	// stored and an empty uid names the stored resource. It is decided in
	// apply, so the proposer reads nothing first.
	opUpsert op = 4
)

func (o op) String() string {
	switch o {
	case opWrite:
		return "write"
	case opStatus:
		return "write_status"
	case opDelete:
		return "delete"
	case opUpsert:
		return "upsert"
	}
	return fmt.Sprintf("op(%d)", byte(o))
}

// command is a decoded command.
type command struct {
	op         op
	maxBytes   uint64
	uid        string // candidate uid, used only on create
	generation string
	res        *pbresource.Resource // opWrite, opUpsert
	id         *pbresource.ID       // opStatus, opDelete
	version    string               // opStatus, opDelete
	key        string               // opStatus
	status     *pbresource.Status   // opStatus
}

// errMalformed is wrapped by every decoding error.
var errMalformed = errors.New("resource: malformed command")

var (
	marshal = proto.MarshalOptions{Deterministic: true}
	// marshalSized reuses the sizes marshal.Size just cached.
	marshalSized = proto.MarshalOptions{Deterministic: true, UseCachedSize: true}
)

func appendBytes(b, v []byte) []byte { return append(binary.AppendUvarint(b, uint64(len(v))), v...) }

func appendString(b []byte, v string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

func appendProto(b []byte, m proto.Message) []byte {
	enc, err := marshal.Marshal(m)
	if err != nil {
		// Marshalling a message that was built in memory cannot fail
		// short of invalid UTF-8 in a string field, which validation
		// rules out for names; data is carried as opaque bytes.
		panic(fmt.Sprintf("resource: encode %T: %v", m, err))
	}
	return appendBytes(b, enc)
}

func (c *command) encode() ([]byte, error) {
	b := make([]byte, 2, 64)
	b[0], b[1] = commandVersion, byte(c.op)
	var err error
	// Each message is sized once and marshalled straight into b behind
	// its length, rather than into a buffer of its own that is copied.
	enc := func(m proto.Message) {
		if err != nil {
			return
		}
		n := marshal.Size(m)
		b = binary.AppendUvarint(slices.Grow(b, n+binary.MaxVarintLen64), uint64(n))
		start := len(b)
		if b, err = marshalSized.MarshalAppend(b, m); err == nil && len(b)-start != n {
			err = fmt.Errorf("%T changed size while it was encoded", m)
		}
	}
	switch c.op {
	case opWrite, opUpsert:
		b = binary.AppendUvarint(b, c.maxBytes)
		b = appendString(b, c.uid)
		b = appendString(b, c.generation)
		enc(c.res)
	case opStatus:
		enc(c.id)
		b = appendString(b, c.version)
		b = appendString(b, c.key)
		enc(c.status)
	case opDelete:
		enc(c.id)
		b = appendString(b, c.version)
	default:
		return nil, fmt.Errorf("resource: encode unknown op %d", c.op)
	}
	if err != nil {
		return nil, ValidationError{Field: "resource", Reason: fmt.Sprintf("cannot be encoded: %v", err)}
	}
	return b, nil
}

// decoder reads the fields of a command or result; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("field of %d bytes with %d left", n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) proto(m proto.Message) {
	b := d.bytes()
	if d.err != nil {
		return
	}
	if err := proto.Unmarshal(b, m); err != nil {
		d.fail("%T: %v", m, err)
	}
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// decodeCommand decodes a command, checking its structure only (apply
// validates the content). in (nil for none) shares recurring strings.
func decodeCommand(b []byte, in *interner) (*command, error) {
	d := &decoder{b: b}
	if v := d.byte(); d.err == nil && v != commandVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errMalformed, v, commandVersion)
	}
	c := &command{op: op(d.byte())}
	switch c.op {
	case opWrite, opUpsert:
		c.maxBytes = d.uvarint()
		c.uid = d.string()
		c.generation = d.string()
		if enc := d.bytes(); d.err == nil {
			res, err := decodeResource(enc, in)
			if err != nil {
				d.fail("*pbresource.Resource: %v", err)
			}
			c.res = res
		}
	case opStatus:
		c.id = &pbresource.ID{}
		d.proto(c.id)
		c.version = d.string()
		c.key = d.string()
		c.status = &pbresource.Status{}
		d.proto(c.status)
	case opDelete:
		c.id = &pbresource.ID{}
		d.proto(c.id)
		c.version = d.string()
	default:
		d.fail("unknown op %d", c.op)
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return c, nil
}

// A result is what apply hands back to the proposer:
//
//	code (1 byte) | fields
//
//	resultOK:         Resource (empty for a delete), revision
//	resultWritten:    uid, generation, statuses (a Resource holding only
//	                  its status map; empty when there is none), revision
//	resultValidation: field, reason
//	resultMismatch:   requested Type, stored Resource
//	resultError:      message (an error that is not part of the contract)
//
// and the sentinel codes carry nothing.
type resultCode byte

const (
	resultOK resultCode = iota
	resultNotFound
	resultCAS
	resultWrongUid
	resultValidation
	resultMismatch
	resultError
	// resultWritten answers Write and WriteCAS with what apply decided
	// (uid, generation, version, the statuses kept) instead of the whole
	// resource: the proposer has the rest (Backend.write rebuilds it), so
	// no member encodes the resource again and the proposer decodes only
	// that.
	resultWritten
)

// result is a decoded result.
type result struct {
	res *pbresource.Resource // nil after a delete; see written
	rev uint64               // the revision of the write, 0 if none happened
	err error
	// written marks a write's result: it is encoded as resultWritten,
	// and a decoded one carries in res only the uid, generation, version
	// and status of the stored resource.
	written bool
}

func encodeResult(r result) []byte {
	if r.err != nil {
		return encodeErrorResult(r.err)
	}
	if r.written {
		uid, gen := r.res.GetId().GetUid(), r.res.GetGeneration()
		b := make([]byte, 1, 1+3*binary.MaxVarintLen64+len(uid)+len(gen)+1)
		b[0] = byte(resultWritten)
		b = appendString(b, uid)
		b = appendString(b, gen)
		if len(r.res.GetStatus()) > 0 {
			b = appendProto(b, &pbresource.Resource{Status: r.res.Status})
		} else {
			b = appendBytes(b, nil)
		}
		return binary.AppendUvarint(b, r.rev)
	}
	b := []byte{byte(resultOK)}
	if r.res != nil {
		b = appendProto(b, r.res)
	} else {
		b = appendBytes(b, nil)
	}
	return binary.AppendUvarint(b, r.rev)
}

// encodeErrorResult encodes a failed command's result. It is apart from
// encodeResult so that the targets of errors.As, which escape, are
// allocated only when there is an error.
func encodeErrorResult(err error) []byte {
	var (
		vErr ValidationError
		gErr GroupVersionMismatchError
	)
	switch {
	case errors.Is(err, ErrNotFound):
		return []byte{byte(resultNotFound)}
	case errors.Is(err, ErrCASFailure):
		return []byte{byte(resultCAS)}
	case errors.Is(err, ErrWrongUid):
		return []byte{byte(resultWrongUid)}
	case errors.As(err, &vErr):
		return appendString(appendString([]byte{byte(resultValidation)}, vErr.Field), vErr.Reason)
	case errors.As(err, &gErr):
		return appendProto(appendProto([]byte{byte(resultMismatch)}, gErr.RequestedType), gErr.Stored)
	default:
		return appendString([]byte{byte(resultError)}, err.Error())
	}
}

func decodeResult(b []byte) (result, error) {
	d := &decoder{b: b}
	var r result
	switch resultCode(d.byte()) {
	case resultOK:
		if enc := d.bytes(); len(enc) > 0 && d.err == nil {
			r.res = &pbresource.Resource{}
			if err := proto.Unmarshal(enc, r.res); err != nil {
				d.fail("resource: %v", err)
			}
		}
		r.rev = d.uvarint()
	case resultWritten:
		r.written = true
		r.res = &pbresource.Resource{Id: &pbresource.ID{Uid: d.string()}, Generation: d.string()}
		if enc := d.bytes(); len(enc) > 0 && d.err == nil {
			st := &pbresource.Resource{}
			if err := proto.Unmarshal(enc, st); err != nil {
				d.fail("statuses: %v", err)
			}
			r.res.Status = st.Status
		}
		r.rev = d.uvarint()
		r.res.Version = strconv.FormatUint(r.rev, 10)
	case resultNotFound:
		r.err = ErrNotFound
	case resultCAS:
		r.err = ErrCASFailure
	case resultWrongUid:
		r.err = ErrWrongUid
	case resultValidation:
		f := d.string()
		r.err = ValidationError{Field: f, Reason: d.string()}
	case resultMismatch:
		e := GroupVersionMismatchError{RequestedType: &pbresource.Type{}, Stored: &pbresource.Resource{}}
		d.proto(e.RequestedType)
		d.proto(e.Stored)
		r.err = e
	case resultError:
		r.err = errors.New(d.string())
	default:
		d.fail("unknown result code")
	}
	if err := d.end(); err != nil {
		return result{}, err
	}
	return r, nil
}
