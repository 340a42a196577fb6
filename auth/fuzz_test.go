package auth

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

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

// FuzzIdentityFromHTTP: any Authorization header either names a user that
// exists with the right credentials or is refused with one of the auth
// errors; nothing panics.
func FuzzIdentityFromHTTP(f *testing.F) {
	f.Add("Basic cm9vdDpyb290cHc=") // root:rootpw
	f.Add("Basic cm9vdDp3cm9uZw==") // root:wrong
	f.Add("Bearer abcdefghijklmnop.7")
	f.Add("Bearer a.b.c")
	f.Add("Negotiate x")
	f.Add("")
	s, _ := newTestStore(f, Config{TokenWait: time.Millisecond})
	enableWithRoot(f, s)
	f.Fuzz(func(t *testing.T, header string) {
		r, _ := http.NewRequestWithContext(context.Background(), "GET", "/", nil)
		r.Header.Set("Authorization", header)
		id, err := s.IdentityFromHTTP(r)
		if err != nil {
			if !errors.Is(err, ErrInvalidAuthToken) && !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrNoPasswordUser) && !errors.Is(err, ErrAuthNotEnabled) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if id.Name != "" && id.Name != RootUser {
			t.Fatalf("header %q authenticated %q", header, id.Name)
		}
	})
}
