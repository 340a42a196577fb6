package auth

import (
	"encoding/binary"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// op identifies an auth command in the log. Values are in the log: append
// only.
type op uint8

const (
	opAuthEnable op = iota + 1
	opAuthDisable
	opUserAdd
	opUserDelete
	opUserChangePassword
	opUserGrantRole
	opUserRevokeRole
	opRoleAdd
	opRoleDelete
	opRoleGrantPermission
	opRoleRevokePermission
	opAuthenticate
	opEnd // first unused value
)

// commandVersion is the first byte of every command.
const commandVersion = 1

// Command is one auth state change as it travels through the log: who asks
// (the proposer's verified user, checked again in apply for the commands
// that need root, as etcd does), the auth revision the proposer saw, the
// proposer's clock for a token's issue time (apply never reads the clock),
// and the request in etcd's protobuf type.
type Command struct {
	op op
	// User is the requester; empty when auth is disabled.
	User string
	// Revision is the auth revision the proposer checked the request
	// against (Authenticate fails if it changed since).
	Revision uint64
	// IssuedUnixNano is when the proposer issued a token (Authenticate).
	IssuedUnixNano int64
	// Body is the etcd request (*pb.AuthUserAddRequest, ...).
	Body interface {
		Marshal() ([]byte, error)
		Unmarshal([]byte) error
	}
}

// newBody returns an empty request message for o.
func newBody(o op) (interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}, bool) {
	switch o {
	case opAuthEnable:
		return &pb.AuthEnableRequest{}, true
	case opAuthDisable:
		return &pb.AuthDisableRequest{}, true
	case opUserAdd:
		return &pb.AuthUserAddRequest{}, true
	case opUserDelete:
		return &pb.AuthUserDeleteRequest{}, true
	case opUserChangePassword:
		return &pb.AuthUserChangePasswordRequest{}, true
	case opUserGrantRole:
		return &pb.AuthUserGrantRoleRequest{}, true
	case opUserRevokeRole:
		return &pb.AuthUserRevokeRoleRequest{}, true
	case opRoleAdd:
		return &pb.AuthRoleAddRequest{}, true
	case opRoleDelete:
		return &pb.AuthRoleDeleteRequest{}, true
	case opRoleGrantPermission:
		return &pb.AuthRoleGrantPermissionRequest{}, true
	case opRoleRevokePermission:
		return &pb.AuthRoleRevokePermissionRequest{}, true
	case opAuthenticate:
		return &pb.InternalAuthenticateRequest{}, true
	}
	return nil, false
}

// opOf returns the op of an etcd request message.
func opOf(body any) (op, bool) {
	switch body.(type) {
	case *pb.AuthEnableRequest:
		return opAuthEnable, true
	case *pb.AuthDisableRequest:
		return opAuthDisable, true
	case *pb.AuthUserAddRequest:
		return opUserAdd, true
	case *pb.AuthUserDeleteRequest:
		return opUserDelete, true
	case *pb.AuthUserChangePasswordRequest:
		return opUserChangePassword, true
	case *pb.AuthUserGrantRoleRequest:
		return opUserGrantRole, true
	case *pb.AuthUserRevokeRoleRequest:
		return opUserRevokeRole, true
	case *pb.AuthRoleAddRequest:
		return opRoleAdd, true
	case *pb.AuthRoleDeleteRequest:
		return opRoleDelete, true
	case *pb.AuthRoleGrantPermissionRequest:
		return opRoleGrantPermission, true
	case *pb.AuthRoleRevokePermissionRequest:
		return opRoleRevokePermission, true
	case *pb.InternalAuthenticateRequest:
		return opAuthenticate, true
	}
	return 0, false
}

// EncodeCommand encodes c for the log: version, op, the requester, the
// revision, the issue time and the marshalled request.
func EncodeCommand(c Command) ([]byte, error) {
	o, ok := opOf(c.Body)
	if !ok {
		return nil, fmt.Errorf("%w: unknown request type %T", ErrBadCommand, c.Body)
	}
	body, err := c.Body.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	b := make([]byte, 0, 2+len(c.User)+3*binary.MaxVarintLen64+len(body))
	b = append(b, commandVersion, byte(o))
	b = binary.AppendUvarint(b, uint64(len(c.User)))
	b = append(b, c.User...)
	b = binary.AppendUvarint(b, c.Revision)
	b = binary.AppendVarint(b, c.IssuedUnixNano)
	return append(b, body...), nil
}

// DecodeCommand decodes what EncodeCommand wrote. Any other input gives an
// error matching ErrBadCommand.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if len(b) < 2 || b[0] != commandVersion || b[1] == 0 || op(b[1]) >= opEnd {
		return c, fmt.Errorf("%w: bad header", ErrBadCommand)
	}
	c.op = op(b[1])
	b = b[2:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return c, fmt.Errorf("%w: bad user", ErrBadCommand)
	}
	c.User = string(b[k : k+int(n)])
	b = b[k+int(n):]
	if c.Revision, k = binary.Uvarint(b); k <= 0 {
		return c, fmt.Errorf("%w: bad revision", ErrBadCommand)
	}
	b = b[k:]
	if c.IssuedUnixNano, k = binary.Varint(b); k <= 0 {
		return c, fmt.Errorf("%w: bad issue time", ErrBadCommand)
	}
	b = b[k:]
	body, _ := newBody(c.op)
	if err := body.Unmarshal(b); err != nil {
		return c, fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	c.Body = body
	return c, nil
}

// encodeResult encodes an apply result: an error code, then for
// Authenticate the token.
func encodeResult(err error, token string) []byte {
	if err != nil {
		return []byte{errorCode(err)}
	}
	return append([]byte{0}, token...)
}

// decodeResult decodes what encodeResult wrote.
func decodeResult(b []byte) (token string, err error) {
	if len(b) == 0 || int(b[0]) >= len(resultErrors) {
		return "", ErrBadResult
	}
	if b[0] != 0 {
		return "", resultErrors[b[0]]
	}
	return string(b[1:]), nil
}
