package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are the archives the corpus in testdata/fuzz/FuzzVerify was made
// from (SNAPSHOT_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds rewrites it).
func fuzzSeeds(t testing.TB) map[string][]byte {
	state := makeState(7, 3, "hello", "world")
	unsealed := writeArchiveBytes(t, state, nil)
	sealed := writeArchiveBytes(t, state, mustHMAC(t, 1))
	ms := decodeArchive(t, unsealed)
	return map[string][]byte{
		"unsealed":  unsealed,
		"sealed":    sealed,
		"aes":       writeArchiveBytes(t, state, mustAES(t, 1)),
		"truncated": unsealed[:len(unsealed)/2],
		"reordered": encodeArchive(t, []member{ms[1], ms[0], ms[2]}, nil),
		"symlink":   encodeArchive(t, []member{ms[0], {hdr: tar.Header{Name: StateName, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}, ms[2]}, nil),
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SNAPSHOT_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set SNAPSHOT_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzVerify")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range fuzzSeeds(t) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzVerify feeds arbitrary bytes to Verify, without and with a sealer:
// it must never panic, must stay within its small limits, and every refusal
// must be an *Error.
func FuzzVerify(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	hm := mustHMAC(f, 1)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sealer := range []Sealer{nil, hm} {
			opts := VerifyOptions{Sealer: sealer, MaxMetaSize: 64 << 10, MaxStateSize: 1 << 20}
			a, err := Verify(context.Background(), bytes.NewReader(data), opts)
			var serr *Error
			if err != nil && !errors.As(err, &serr) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if err == nil && (a.Size() != int64(len(data)) || a.Meta.Version != FormatVersion) {
				t.Fatalf("accepted archive described as %+v", a)
			}
		}
	})
}
