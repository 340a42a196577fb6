package kv

import (
	"encoding/binary"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Command and result encoding.
//
// A command (the bytes given to Apply, inside node's envelope) is
//
//	[format version = 1][kind][gogo-protobuf Marshal of the request]
//
// and the result Apply returns for it is either
//
//	[format version = 1][kind][Marshal of the response]   on success, or
//	[format version = 1][0xFF][uvarint error code][error message]
//
// where the kind of a success is the kind of its command and the error code
// identifies the sentinel error (errors.go) that DecodeResult returns. Kinds
// and codes are wire format: never renumber them, only add.

// Kind identifies a command and its response type.
type Kind byte

// Command kinds.
const (
	KindPut             Kind = 1 // *pb.PutRequest -> *pb.PutResponse
	KindDeleteRange     Kind = 2 // *pb.DeleteRangeRequest -> *pb.DeleteRangeResponse
	KindTxn             Kind = 3 // *pb.TxnRequest -> *pb.TxnResponse
	KindCompact         Kind = 4 // *pb.CompactionRequest -> *pb.CompactionResponse
	KindLeaseGrant      Kind = 5 // *pb.LeaseGrantRequest -> *pb.LeaseGrantResponse
	KindLeaseRevoke     Kind = 6 // *pb.LeaseRevokeRequest -> *pb.LeaseRevokeResponse
	KindLeaseCheckpoint Kind = 7 // *pb.LeaseCheckpointRequest -> *pb.LeaseCheckpointResponse
	KindAlarm           Kind = 8 // *pb.AlarmRequest -> *pb.AlarmResponse (alarm.go)

	kindError Kind = 0xFF
)

const formatVersion = 1

func (k Kind) String() string {
	switch k {
	case KindPut:
		return "put"
	case KindDeleteRange:
		return "delete-range"
	case KindTxn:
		return "txn"
	case KindCompact:
		return "compact"
	case KindLeaseGrant:
		return "lease-grant"
	case KindLeaseRevoke:
		return "lease-revoke"
	case KindLeaseCheckpoint:
		return "lease-checkpoint"
	case KindAlarm:
		return "alarm"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Message is what every etcd request and response type implements.
type Message interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
	Unmarshal([]byte) error
	Reset()
	String() string
	ProtoMessage()
}

func newRequest(k Kind) Message {
	switch k {
	case KindPut:
		return &pb.PutRequest{}
	case KindDeleteRange:
		return &pb.DeleteRangeRequest{}
	case KindTxn:
		return &pb.TxnRequest{}
	case KindCompact:
		return &pb.CompactionRequest{}
	case KindLeaseGrant:
		return &pb.LeaseGrantRequest{}
	case KindLeaseRevoke:
		return &pb.LeaseRevokeRequest{}
	case KindLeaseCheckpoint:
		return &pb.LeaseCheckpointRequest{}
	case KindAlarm:
		return &pb.AlarmRequest{}
	}
	return nil
}

func newResponse(k Kind) Message {
	switch k {
	case KindPut:
		return &pb.PutResponse{}
	case KindDeleteRange:
		return &pb.DeleteRangeResponse{}
	case KindTxn:
		return &pb.TxnResponse{}
	case KindCompact:
		return &pb.CompactionResponse{}
	case KindLeaseGrant:
		return &pb.LeaseGrantResponse{}
	case KindLeaseRevoke:
		return &pb.LeaseRevokeResponse{}
	case KindLeaseCheckpoint:
		return &pb.LeaseCheckpointResponse{}
	case KindAlarm:
		return &pb.AlarmResponse{}
	}
	return nil
}

// encode marshals m after a two-byte prefix. The etcd types' generated
// marshalers cannot fail on a value built in Go; if one ever did, the bug is
// in the caller's message and we panic rather than propose garbage.
func encode(k Kind, m Message) []byte {
	b := make([]byte, 2+m.Size())
	b[0], b[1] = formatVersion, byte(k)
	if _, err := m.MarshalToSizedBuffer(b[2:]); err != nil {
		panic(fmt.Sprintf("kv: marshal %v: %v", k, err))
	}
	return b
}

// EncodePut encodes a put command.
func EncodePut(r *pb.PutRequest) []byte { return encode(KindPut, r) }

// EncodeDeleteRange encodes a delete-range command.
func EncodeDeleteRange(r *pb.DeleteRangeRequest) []byte { return encode(KindDeleteRange, r) }

// EncodeTxn encodes a txn command. A read-only txn may be served with
// Store.ReadTxn instead, without going through the log.
func EncodeTxn(r *pb.TxnRequest) []byte { return encode(KindTxn, r) }

// EncodeCompact encodes a compaction at r.Revision (r.Physical is ignored:
// compaction is always physical and done when Apply returns).
func EncodeCompact(r *pb.CompactionRequest) []byte { return encode(KindCompact, r) }

// EncodeLeaseGrant encodes a grant. r.ID must be non-zero: the proposer
// picks the ID (unique, e.g. from its member ID and a counter) before
// proposing; apply returns ErrLeaseExists if it is taken.
func EncodeLeaseGrant(r *pb.LeaseGrantRequest) []byte { return encode(KindLeaseGrant, r) }

// EncodeLeaseRevoke encodes a revoke (also how the leader expires a lease).
func EncodeLeaseRevoke(r *pb.LeaseRevokeRequest) []byte { return encode(KindLeaseRevoke, r) }

// EncodeLeaseCheckpoint encodes a checkpoint of remaining TTLs.
func EncodeLeaseCheckpoint(r *pb.LeaseCheckpointRequest) []byte {
	return encode(KindLeaseCheckpoint, r)
}

// DecodeCommand decodes a command. It returns ErrBadCommand (wrapped) for
// anything that is not a well-formed command, and never panics.
func DecodeCommand(cmd []byte) (Kind, Message, error) {
	if len(cmd) < 2 {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrBadCommand, len(cmd))
	}
	if cmd[0] != formatVersion {
		return 0, nil, fmt.Errorf("%w: format version %d", ErrBadCommand, cmd[0])
	}
	k := Kind(cmd[1])
	m := newRequest(k)
	if m == nil {
		return 0, nil, fmt.Errorf("%w: unknown kind %d", ErrBadCommand, cmd[1])
	}
	if err := m.Unmarshal(cmd[2:]); err != nil {
		return 0, nil, fmt.Errorf("%w: %v: %v", ErrBadCommand, k, err)
	}
	if err := validate(m); err != nil {
		return 0, nil, err
	}
	return k, m, nil
}

// validate rejects decoded requests apply cannot execute safely: nil ops or
// compares inside a txn, and txns nested deeper than maxTxnDepth.
func validate(m Message) error {
	if t, ok := m.(*pb.TxnRequest); ok {
		return validateTxn(t, 0)
	}
	return nil
}

const maxTxnDepth = 64

func validateTxn(t *pb.TxnRequest, depth int) error {
	if depth > maxTxnDepth {
		return fmt.Errorf("%w: txn nested deeper than %d", ErrBadCommand, maxTxnDepth)
	}
	for _, c := range t.Compare {
		if c == nil {
			return fmt.Errorf("%w: nil compare", ErrBadCommand)
		}
	}
	for _, ops := range [][]*pb.RequestOp{t.Success, t.Failure} {
		for _, op := range ops {
			if op == nil {
				return fmt.Errorf("%w: nil op", ErrBadCommand)
			}
			if n := op.GetRequestTxn(); n != nil {
				if err := validateTxn(n, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func encodeResult(k Kind, m Message) []byte { return encode(k, m) }

func encodeError(err error) []byte {
	msg := err.Error()
	b := make([]byte, 0, 3+binary.MaxVarintLen64+len(msg))
	b = append(b, formatVersion, byte(kindError))
	b = binary.AppendUvarint(b, codeOf(err))
	return append(b, msg...)
}

// DecodeResult decodes the bytes Apply returned. On success the response
// has the concrete type listed with its Kind (e.g. *pb.PutResponse for
// KindPut); a semantic failure comes back as the sentinel error Apply hit
// (compare with errors.Is). A result that cannot be decoded returns
// ErrBadResult.
func DecodeResult(res []byte) (Kind, Message, error) {
	if len(res) < 2 || res[0] != formatVersion {
		return 0, nil, ErrBadResult
	}
	k := Kind(res[1])
	if k == kindError {
		code, n := binary.Uvarint(res[2:])
		if n <= 0 {
			return 0, nil, ErrBadResult
		}
		return k, nil, errorOf(code, string(res[2+n:]))
	}
	m := newResponse(k)
	if m == nil {
		return 0, nil, fmt.Errorf("%w: unknown kind %d", ErrBadResult, res[1])
	}
	if err := m.Unmarshal(res[2:]); err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrBadResult, err)
	}
	return k, m, nil
}

// ResultAs decodes a result and asserts its response type, e.g.
// ResultAs[*pb.PutResponse](res).
func ResultAs[T Message](res []byte) (T, error) {
	var zero T
	_, m, err := DecodeResult(res)
	if err != nil {
		return zero, err
	}
	t, ok := m.(T)
	if !ok {
		return zero, fmt.Errorf("%w: got %T, want %T", ErrBadResult, m, zero)
	}
	return t, nil
}
