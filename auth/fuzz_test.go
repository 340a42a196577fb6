package auth

import (
	"bytes"
	"testing"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// FuzzDecodeCommand: any bytes either decode to a command that encodes
// back to a command decoding the same way, or give ErrBadCommand; Apply of
// them never panics.
func FuzzDecodeCommand(f *testing.F) {
	for _, body := range []interface {
		Marshal() ([]byte, error)
		Unmarshal([]byte) error
	}{
		&pb.AuthEnableRequest{}, &pb.AuthUserAddRequest{Name: "u", HashedPassword: "aGFzaA=="},
		&pb.AuthRoleGrantPermissionRequest{Name: "r", Perm: &authpb.Permission{Key: []byte("k"), RangeEnd: []byte{0}}},
		&pb.InternalAuthenticateRequest{Name: "root", SimpleToken: "abcdefghijklmnop"},
	} {
		b, err := EncodeCommand(Command{User: "root", Revision: 3, IssuedUnixNano: 42, Body: body})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{1, 99})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			return
		}
		again, err := EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeCommand(again)
		if err != nil || c2.op != c.op || c2.User != c.User || c2.Revision != c.Revision {
			t.Fatalf("round trip: %v", err)
		}
		s, _ := newTestStore(t, Config{})
		s.Apply(1, b)
	})
}

// FuzzRestore: any section is either restored and re-encodes to the same
// state, or refused with the state unchanged.
func FuzzRestore(f *testing.F) {
	st := newState()
	st.enabled = true
	st.users["root"] = &authpb.User{Name: []byte("root"), Roles: []string{"root"}}
	st.roles["r"] = &authpb.Role{Name: []byte("r"), KeyPermission: []*authpb.Permission{{Key: []byte("a")}}}
	f.Add(encodeState(&st))
	f.Add([]byte{})
	f.Add([]byte{1, 1, 5, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := newTestStore(t, Config{})
		before := encodeState(&s.st)
		if err := s.Restore(bytes.NewReader(b)); err != nil {
			if !bytes.Equal(before, encodeState(&s.st)) {
				t.Fatal("a refused section changed the state")
			}
			if s.ValidateSnapshot(bytes.NewReader(b)) == nil {
				t.Fatal("validate accepts what restore refuses")
			}
			return
		}
		st2, err := decodeState(encodeState(&s.st))
		if err != nil || !equalState(&st2, &s.st) {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}
