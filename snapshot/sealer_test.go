package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestKeyFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot.key")
	if err := WriteKeyFile(path); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(path); err == nil {
		t.Error("WriteKeyFile overwrote an existing key")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode())
	}
	h, err := NewHMACSealerFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAESGCMSealerFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.KeyID() != a.KeyID() || len(h.KeyID()) != 16 {
		t.Errorf("key ids %q %q", h.KeyID(), a.KeyID())
	}
	for _, bad := range []string{"", "abc", string(bytes.Repeat([]byte("zz"), KeySize)), string(bytes.Repeat([]byte("ab"), KeySize+1))} {
		if _, err := ParseKey([]byte(bad)); !errors.Is(err, ErrKey) {
			t.Errorf("ParseKey(%q): %v, want ErrKey", bad, err)
		}
	}
	if _, err := NewHMACSealer(make([]byte, 16)); !errors.Is(err, ErrKey) {
		t.Errorf("short HMAC key: %v", err)
	}
	if _, err := NewAESGCMSealer(make([]byte, 16)); !errors.Is(err, ErrKey) {
		t.Errorf("short AES key: %v", err)
	}
}

func TestSealers(t *testing.T) {
	ctx := context.Background()
	plain := []byte("sums\n")
	for _, s := range []Sealer{mustHMAC(t, 1), mustAES(t, 1)} {
		sealed, err := s.Seal(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		opened, err := s.Open(ctx, sealed)
		if err != nil || !bytes.Equal(opened, plain) {
			t.Fatalf("%T: Open(Seal(x)) = %q, %v", s, opened, err)
		}
		for i := range sealed {
			b := append([]byte(nil), sealed...)
			b[i] ^= 0x01
			if opened, err := s.Open(ctx, b); err == nil && !bytes.Equal(opened, plain) {
				t.Fatalf("%T: flipped byte %d opened to %q", s, i, opened)
			} else if err != nil && !errors.Is(err, ErrSeal) {
				t.Fatalf("%T: flipped byte %d: %v, want ErrSeal", s, i, err)
			}
		}
	}
}

func TestVerifyCanceled(t *testing.T) {
	archive := writeArchiveBytes(t, makeState(7, 3, "x"), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Verify(ctx, bytes.NewReader(archive), VerifyOptions{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify with a canceled context: %v, want context.Canceled only", err)
	}
}
