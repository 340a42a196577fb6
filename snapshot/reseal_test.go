package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
)

// TestReseal seals an unsealed archive and strips the seal again: state.bin
// and the metadata other than "sealed" are kept, and each result verifies
// only with the matching options.
func TestReseal(t *testing.T) {
	ctx := context.Background()
	state := makeState(7, 3, "payload")
	plain := writeArchiveBytes(t, state, nil)
	s := mustHMAC(t, 1)
	var sealed bytes.Buffer
	a, err := Reseal(ctx, &sealed, bytes.NewReader(plain), VerifyOptions{TempDir: t.TempDir()}, WriteOptions{Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Meta.Sealed || a.Meta.Index != 7 || !a.Meta.Created.Equal(testCreated) {
		t.Fatalf("resealed meta %+v", a.Meta)
	}
	if _, err := Verify(ctx, bytes.NewReader(sealed.Bytes()), VerifyOptions{Sealer: s}); err != nil {
		t.Fatalf("verify sealed: %v", err)
	}
	if _, err := Verify(ctx, bytes.NewReader(sealed.Bytes()), VerifyOptions{}); !errors.Is(err, ErrSeal) {
		t.Fatalf("verify sealed without key: %v", err)
	}
	if _, err := Verify(ctx, bytes.NewReader(sealed.Bytes()), VerifyOptions{SkipSeal: true}); err != nil {
		t.Fatalf("verify sealed with SkipSeal: %v", err)
	}
	var out bytes.Buffer
	if _, err := Parse(ctx, bytes.NewReader(sealed.Bytes()), VerifyOptions{Sealer: s}, &out); err != nil || !bytes.Equal(out.Bytes(), state) {
		t.Fatalf("state.bin after reseal differs (%v)", err)
	}
	var stripped bytes.Buffer
	if _, err := Reseal(ctx, &stripped, bytes.NewReader(sealed.Bytes()), VerifyOptions{Sealer: s}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, bytes.NewReader(stripped.Bytes()), VerifyOptions{}); err != nil {
		t.Fatalf("verify stripped: %v", err)
	}
	// A wrong key is refused and nothing is written.
	var none bytes.Buffer
	if _, err := Reseal(ctx, &none, bytes.NewReader(sealed.Bytes()), VerifyOptions{Sealer: mustHMAC(t, 2)}, WriteOptions{}); !errors.Is(err, ErrSeal) || none.Len() != 0 {
		t.Fatalf("reseal with a wrong key: %v, %d bytes written", err, none.Len())
	}
	// SkipSeal still refuses a seal member that meta.json does not announce.
	ms := decodeArchive(t, sealed.Bytes())
	ms = editMeta(t, ms, func(m map[string]any) { m["sealed"] = false })
	ms = resum(t, ms, nil)
	if _, err := Verify(ctx, bytes.NewReader(encodeArchive(t, ms, nil)), VerifyOptions{SkipSeal: true}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unannounced seal with SkipSeal: %v", err)
	}
}

// TestEtcdTrailer: the zero padding and sha-256 etcd's snapshot stream ends
// with (kept by etcdctl snapshot save) are accepted; anything else after the
// gzip stream is not.
func TestEtcdTrailer(t *testing.T) {
	ctx := context.Background()
	plain := writeArchiveBytes(t, makeState(7, 3, "payload"), nil)
	withTrailer := func(b []byte) []byte {
		pad := (512 - len(b)%512) % 512
		b = append(bytes.Clone(b), make([]byte, pad)...)
		sum := sha256.Sum256(b)
		return append(b, sum[:]...)
	}
	good := withTrailer(plain)
	if a, err := Verify(ctx, bytes.NewReader(good), VerifyOptions{}); err != nil || a.Size() != int64(len(good)) {
		t.Fatalf("archive with etcd's trailer: %v", err)
	}
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	if _, err := Verify(ctx, bytes.NewReader(bad), VerifyOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong trailer digest: %v", err)
	}
	bad = bytes.Clone(good)
	bad[len(plain)] = 1
	if _, err := Verify(ctx, bytes.NewReader(bad), VerifyOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("non-zero padding: %v", err)
	}
	if _, err := Verify(ctx, bytes.NewReader(append(bytes.Clone(good), 0)), VerifyOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("byte after the trailer: %v", err)
	}
}
