package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	state := makeState(7, 3, "hello", "world")
	for _, tc := range []struct {
		name   string
		sealer Sealer
	}{{"unsealed", nil}, {"hmac", mustHMAC(t, 1)}, {"aes-gcm", mustAES(t, 2)}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "backup.snap")
			a, err := WriteFile(ctx, path, bytesSource(7, 3, state), WriteOptions{Created: testCreated, Sealer: tc.sealer, TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(file)
			if want := "sha-256=" + base64.StdEncoding.EncodeToString(sum[:]); a.Checksum() != want {
				t.Errorf("Checksum %s, file hashes to %s", a.Checksum(), want)
			}
			if a.Size() != int64(len(file)) || a.Index() != 7 {
				t.Errorf("Size %d Index %d, want %d 7", a.Size(), a.Index(), len(file))
			}
			m := a.Meta
			if m.Version != FormatVersion || m.Term != 3 || m.StateVersion != 1 || m.Size != int64(len(state)) ||
				m.ClusterID != "c0ffee" || len(m.Members) != 3 || !m.Created.Equal(testCreated) || m.Sealed != (tc.sealer != nil) {
				t.Errorf("meta %+v", m)
			}
			if len(m.Sections) != 3 || m.Sections[0].Name != "node" || m.Sections[1].Bytes != 5 || m.Sections[2].Name != "user-65" {
				t.Errorf("sections %+v", m.Sections)
			}
			opts := VerifyOptions{Sealer: tc.sealer, TempDir: t.TempDir()}
			v, err := Verify(ctx, bytes.NewReader(file), opts)
			if err != nil {
				t.Fatal(err)
			}
			if v.Checksum() != a.Checksum() || v.Size() != a.Size() || !sameMeta(v.Meta, a.Meta) {
				t.Errorf("Verify: %+v, Write: %+v", v, a)
			}
			var out bytes.Buffer
			if _, err := Parse(ctx, bytes.NewReader(file), opts, &out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), state) {
				t.Error("Parse returned different state.bin bytes")
			}
			target := &fakeTarget{}
			if _, err := Restore(ctx, bytes.NewReader(file), target, opts); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(target.got, state) {
				t.Error("Restore handed different state.bin bytes to the target")
			}
		})
	}
}

func sameMeta(a, b Meta) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Size == b.Size && a.Created.Equal(b.Created) &&
		len(a.Members) == len(b.Members) && len(a.Sections) == len(b.Sections) && a.ClusterID == b.ClusterID
}

func TestWriteIsDeterministic(t *testing.T) {
	state := makeState(7, 3, "x")
	a, b := writeArchiveBytes(t, state, mustHMAC(t, 1)), writeArchiveBytes(t, state, mustHMAC(t, 1))
	if !bytes.Equal(a, b) {
		t.Error("the same state and options gave different archives")
	}
}

func TestWriteRefusesBadSource(t *testing.T) {
	ctx := context.Background()
	for name, src := range map[string]*fakeSource{
		"corrupt state":  bytesSource(7, 3, makeState(7, 3, "x")[:30]),
		"header differs": bytesSource(8, 3, makeState(7, 3, "x")),
	} {
		var buf bytes.Buffer
		if _, err := Write(ctx, &buf, src, WriteOptions{Created: testCreated, TempDir: t.TempDir()}); err == nil {
			t.Errorf("%s: Write succeeded", name)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: Write wrote %d bytes before failing", name, buf.Len())
		}
	}
	if _, err := Write(ctx, &bytes.Buffer{}, bytesSource(7, 3, makeState(7, 3)), WriteOptions{}); err == nil {
		t.Error("Write without Created succeeded")
	}
}

func TestWriteFileLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.snap")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := &fakeSource{index: 1, term: 1, gen: func(w io.Writer) error { return ctx.Err() }}
	if _, err := WriteFile(ctx, path, src, WriteOptions{Created: testCreated, TempDir: dir}); err == nil {
		t.Fatal("WriteFile succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind %v", ents)
	}
}
