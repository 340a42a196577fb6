package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/concord-db/concord/node"
)

// checkRefused verifies archive and restores it into a fake target: both
// must fail with an *Error matching want, and the target must see nothing.
func checkRefused(t *testing.T, archive []byte, opts VerifyOptions, want error) {
	t.Helper()
	opts.TempDir = t.TempDir()
	_, err := Verify(context.Background(), bytes.NewReader(archive), opts)
	var serr *Error
	switch {
	case err == nil:
		t.Fatalf("Verify accepted the archive, want %v", want)
	case !errors.As(err, &serr):
		t.Fatalf("Verify: %v is not an *Error", err)
	case !errors.Is(err, want):
		t.Fatalf("Verify: %v, want %v", err, want)
	}
	t.Logf("refused: %v", err)
	target := &fakeTarget{}
	if _, err := Restore(context.Background(), bytes.NewReader(archive), target, opts); !errors.Is(err, want) {
		t.Fatalf("Restore: %v, want %v", err, want)
	}
	if target.called {
		t.Fatal("Restore called the target")
	}
	var out bytes.Buffer
	if _, err := Parse(context.Background(), bytes.NewReader(archive), opts, &out); !errors.Is(err, want) || out.Len() != 0 {
		t.Fatalf("Parse: %v with %d bytes out, want %v and none", err, out.Len(), want)
	}
}

func TestBadArchives(t *testing.T) {
	state := makeState(7, 3, "hello", "world")
	good := writeArchiveBytes(t, state, nil)
	ms := decodeArchive(t, good)
	hm := mustHMAC(t, 1)
	sealedMs := decodeArchive(t, writeArchiveBytes(t, state, hm))
	meta, st, sums := ms[0], ms[1], ms[2]
	if meta.hdr.Name != MetaName || st.hdr.Name != StateName || sums.hdr.Name != SumsName {
		t.Fatalf("unexpected layout %v", ms)
	}
	withHdr := func(m member, fn func(h *tar.Header)) member {
		fn(&m.hdr)
		return m
	}
	rename := func(m member, name string) member { return withHdr(m, func(h *tar.Header) { h.Name = name }) }
	enc := func(ms ...member) []byte { return encodeArchive(t, ms, nil) }
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}

	type tc struct {
		name    string
		archive []byte
		opts    VerifyOptions
		want    error
	}
	cases := []tc{
		{"empty input", nil, VerifyOptions{}, ErrCorrupt},
		{"not gzip", []byte("this is not a snapshot"), VerifyOptions{}, ErrCorrupt},
		{"gzip of garbage", gz([]byte("garbage")), VerifyOptions{}, ErrCorrupt},
		{"empty tar", enc(), VerifyOptions{}, ErrCorrupt},
		{"wrong order state first", enc(st, meta, sums), VerifyOptions{}, ErrCorrupt},
		{"wrong order sums before state", enc(meta, sums, st), VerifyOptions{}, ErrCorrupt},
		{"missing meta.json", enc(st, sums), VerifyOptions{}, ErrCorrupt},
		{"missing state.bin", enc(meta, sums), VerifyOptions{}, ErrCorrupt},
		{"missing SHA256SUMS", enc(meta, st), VerifyOptions{}, ErrCorrupt},
		{"extra member first", enc(regular("README", []byte("hi")), meta, st, sums), VerifyOptions{}, ErrCorrupt},
		{"extra member middle", enc(meta, regular("README", []byte("hi")), st, sums), VerifyOptions{}, ErrCorrupt},
		{"extra member last", enc(meta, st, sums, regular("README", []byte("hi"))), VerifyOptions{}, ErrCorrupt},
		{"duplicated meta.json", enc(meta, meta, st, sums), VerifyOptions{}, ErrCorrupt},
		{"duplicated state.bin", enc(meta, st, st, sums), VerifyOptions{}, ErrCorrupt},
		{"duplicated SHA256SUMS", enc(meta, st, sums, sums), VerifyOptions{}, ErrCorrupt},
		{"path traversal", enc(rename(meta, "../meta.json"), st, sums), VerifyOptions{}, ErrCorrupt},
		{"path traversal deep", enc(meta, rename(st, "x/../../state.bin"), sums), VerifyOptions{}, ErrCorrupt},
		{"absolute path", enc(rename(meta, "/meta.json"), st, sums), VerifyOptions{}, ErrCorrupt},
		{"dot slash name", enc(rename(meta, "./meta.json"), st, sums), VerifyOptions{}, ErrCorrupt},
		{"directory prefix", enc(rename(meta, "backup/meta.json"), st, sums), VerifyOptions{}, ErrCorrupt},
		{"symlink", enc(member{hdr: tar.Header{Name: MetaName, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}, st, sums), VerifyOptions{}, ErrCorrupt},
		{"hardlink", enc(meta, member{hdr: tar.Header{Name: StateName, Typeflag: tar.TypeLink, Linkname: MetaName}}, sums), VerifyOptions{}, ErrCorrupt},
		{"directory", enc(member{hdr: tar.Header{Name: MetaName + "/", Typeflag: tar.TypeDir, Mode: 0o755}}, meta, st, sums), VerifyOptions{}, ErrCorrupt},
		{"char device", enc(member{hdr: tar.Header{Name: MetaName, Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}, st, sums), VerifyOptions{}, ErrCorrupt},
		{"block device", enc(meta, member{hdr: tar.Header{Name: StateName, Typeflag: tar.TypeBlock, Devmajor: 8}}, sums), VerifyOptions{}, ErrCorrupt},
		{"fifo", enc(meta, st, member{hdr: tar.Header{Name: SumsName, Typeflag: tar.TypeFifo}}), VerifyOptions{}, ErrCorrupt},
		{"oversized meta.json", enc(regular(MetaName, append(bytes.Repeat([]byte(" "), 2<<20), meta.body...)), st, sums), VerifyOptions{}, ErrTooLarge},
		{"meta.json over a custom cap", good, VerifyOptions{MaxMetaSize: 100}, ErrTooLarge},
		{"state.bin over the absolute cap", good, VerifyOptions{MaxStateSize: 10}, ErrTooLarge},
		{"gzip bomb after the tar trailer", encodeArchive(t, ms, make([]byte, 16<<20)), VerifyOptions{}, ErrTooLarge},
		{"non-zero data after the tar trailer", encodeArchive(t, ms, []byte("surprise")), VerifyOptions{}, ErrCorrupt},
		{"data after the gzip stream", append(append([]byte(nil), good...), "junk"...), VerifyOptions{}, ErrCorrupt},
		{"second gzip member", append(append([]byte(nil), good...), gz([]byte("more"))...), VerifyOptions{}, ErrCorrupt},
		{"sealed archive without a sealer", enc(sealedMs...), VerifyOptions{}, ErrSeal},
		{"unsealed archive with a sealer", good, VerifyOptions{Sealer: hm}, ErrSeal},
		{"wrong HMAC key", enc(sealedMs...), VerifyOptions{Sealer: mustHMAC(t, 2)}, ErrSeal},
		{"AES sealer on an HMAC seal", enc(sealedMs...), VerifyOptions{Sealer: mustAES(t, 1)}, ErrSeal},
		{"wrong AES key", writeArchiveBytes(t, state, mustAES(t, 1)), VerifyOptions{Sealer: mustAES(t, 2)}, ErrSeal},
		{"newer format version", enc(resum(t, editMeta(t, ms, func(m map[string]any) { m["version"] = FormatVersion + 1 }), nil)...), VerifyOptions{}, ErrVersion},
		{"no format version", enc(resum(t, editMeta(t, ms, func(m map[string]any) { delete(m, "version") }), nil)...), VerifyOptions{}, ErrCorrupt},
		{"meta.json not JSON", enc(resum(t, []member{regular(MetaName, []byte("{")), st, sums}, nil)...), VerifyOptions{}, ErrCorrupt},
		{"state.bin size differs from meta", enc(resum(t, editMeta(t, ms, func(m map[string]any) { m["size"] = len(st.body) + 1 }), nil)...), VerifyOptions{}, ErrCorrupt},
		{"state.bin header index differs from meta", enc(resum(t, editMeta(t, ms, func(m map[string]any) { m["index"] = 8 }), nil)...), VerifyOptions{}, ErrCorrupt},
		{"sections differ from meta", enc(resum(t, editMeta(t, ms, func(m map[string]any) { m["sections"] = []any{} }), nil)...), VerifyOptions{}, ErrCorrupt},
		{"meta declares a huge state.bin", enc(resum(t, editMeta(t, ms, func(m map[string]any) { m["size"] = int64(1) << 50 }), nil)...), VerifyOptions{}, ErrTooLarge},
		{"SHA256SUMS not canonical", enc(meta, st, regular(SumsName, append([]byte("\n"), sums.body...))), VerifyOptions{}, ErrCorrupt},
		{"SHA256SUMS missing a line", enc(meta, st, regular(SumsName, sums.body[:strings.IndexByte(string(sums.body), '\n')+1])), VerifyOptions{}, ErrCorrupt},
		{"SHA256SUMS oversized", enc(meta, st, regular(SumsName, make([]byte, 100<<10))), VerifyOptions{}, ErrTooLarge},
	}

	// state.bin edited and the sums recomputed: only its own checksums or the
	// seal can tell.
	badCRC := append([]byte(nil), st.body...)
	badCRC[len(badCRC)-3] ^= 1 // inside the last section's crc32c
	forged := resum(t, []member{meta, regular(StateName, badCRC), sums}, nil)
	cases = append(cases, tc{"state.bin fails its own checksum", enc(forged...), VerifyOptions{}, node.ErrBadSnapshot})
	newer := append([]byte(nil), st.body...)
	newer[8] = 9 // state.bin format version 9
	cases = append(cases, tc{"state.bin from a newer version", enc(resum(t, []member{meta, regular(StateName, newer), sums}, nil)...), VerifyOptions{}, ErrVersion})

	// A different but self-consistent state.bin (same sizes, valid crc32c).
	tampered := append([]member(nil), sealedMs...)
	setBody(tampered, StateName, makeState(7, 3, "HELLO", "world"))
	cases = append(cases,
		tc{"sealed: state.bin edited, sums recomputed, seal kept", enc(resum(t, tampered, nil)...), VerifyOptions{Sealer: hm}, ErrSeal},
		tc{"sealed: seal forged with another key", enc(resum(t, tampered, mustHMAC(t, 9))...), VerifyOptions{Sealer: hm}, ErrSeal},
		tc{"sealed: seal stripped and meta says unsealed", enc(resum(t, editMeta(t, sealedMs[:3], func(m map[string]any) { m["sealed"] = false }), nil)...), VerifyOptions{Sealer: hm}, ErrSeal},
		tc{"sealed: seal stripped", enc(sealedMs[:3]...), VerifyOptions{Sealer: hm}, ErrSeal},
		tc{"sealed: seal member corrupted", enc(append(sealedMs[:3:3], regular(SealedName, []byte("concord-seal v1 hmac-sha256 x\nAAAA\n")))...), VerifyOptions{Sealer: hm}, ErrSeal},
		tc{"sealed: seal garbage", enc(append(sealedMs[:3:3], regular(SealedName, []byte("garbage")))...), VerifyOptions{Sealer: hm}, ErrSeal},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkRefused(t, c.archive, c.opts, c.want) })
	}
}

func gunzip(b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil
	}
	return out
}

func TestTruncatedAtEveryOffset(t *testing.T) {
	for _, sealer := range []Sealer{nil, mustHMAC(t, 1)} {
		archive := writeArchiveBytes(t, makeState(7, 3, "hello", strings.Repeat("world", 1000)), sealer)
		for n := 0; n < len(archive); n++ {
			_, err := Verify(context.Background(), bytes.NewReader(archive[:n]), VerifyOptions{Sealer: sealer})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated to %d of %d bytes: %v, want ErrCorrupt", n, len(archive), err)
			}
		}
	}
}

// TestFlippedBits flips every bit position class in each member (then
// recompresses, so gzip's own CRC cannot be the one to notice), and bits in
// the compressed file itself.
func TestFlippedBits(t *testing.T) {
	for _, sealer := range []Sealer{nil, mustHMAC(t, 1)} {
		archive := writeArchiveBytes(t, makeState(7, 3, "hello", "world"), sealer)
		ms := decodeArchive(t, archive)
		stride := 1
		if raceEnabled {
			stride = 7
		}
		for mi, m := range ms {
			for i := 0; i < len(m.body); i += stride {
				for _, bit := range []byte{1 << (i % 8)} {
					flipped := append([]member(nil), ms...)
					body := append([]byte(nil), m.body...)
					body[i] ^= bit
					flipped[mi].body = body
					_, err := Verify(context.Background(), bytes.NewReader(encodeArchive(t, flipped, nil)), VerifyOptions{Sealer: sealer})
					if err == nil {
						t.Fatalf("%s: flipped bit %#x of byte %d went unnoticed", m.hdr.Name, bit, i)
					}
					if m.hdr.Name == StateName && !errors.Is(err, ErrChecksum) {
						t.Fatalf("%s byte %d: %v, want ErrChecksum", m.hdr.Name, i, err)
					}
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrSeal) &&
						!errors.Is(err, ErrVersion) && !errors.Is(err, ErrTooLarge) {
						t.Fatalf("%s byte %d: untyped error %v", m.hdr.Name, i, err)
					}
				}
			}
		}
		// The compressed file: a flip must be refused unless it leaves the
		// content unchanged (gzip's MTIME, XFL and OS header fields, unused
		// bits of deflate's code tables).
		content := gunzip(archive)
		for i := 0; i < len(archive); i += stride {
			b := append([]byte(nil), archive...)
			b[i] ^= 0x10
			if _, err := Verify(context.Background(), bytes.NewReader(b), VerifyOptions{Sealer: sealer}); err == nil && !bytes.Equal(gunzip(b), content) {
				t.Fatalf("flipped bit in compressed byte %d changed the content unnoticed", i)
			}
		}
	}
}
