package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"hash/crc32"
	"io"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
)

var testCreated = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stateWriter writes a state.bin stream in node's documented format
// (node/snapfmt.go): header, sections of checksummed chunks, end marker.
type stateWriter struct {
	w       io.Writer
	version uint16
	crc     hash.Hash32
	inSec   bool
	err     error
}

func newStateWriter(w io.Writer, version uint16, index, term uint64) *stateWriter {
	s := &stateWriter{w: w, version: version}
	b := append([]byte("CONCORD\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], version)
	b = binary.LittleEndian.AppendUint64(b, index)
	b = binary.LittleEndian.AppendUint64(b, term)
	s.write(b)
	return s
}

func (s *stateWriter) write(b []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

// section starts a section of type t, closing the previous one.
func (s *stateWriter) section(t uint8) {
	s.closeSection()
	s.write([]byte{t})
	s.crc, s.inSec = crc32.New(castagnoli), true
}

// chunk writes one chunk of the current section.
func (s *stateWriter) chunk(p []byte) {
	s.write(binary.LittleEndian.AppendUint32(nil, uint32(len(p))))
	s.write(p)
	s.crc.Write(p)
}

func (s *stateWriter) closeSection() {
	if s.inSec {
		tail := binary.LittleEndian.AppendUint32(make([]byte, 4), s.crc.Sum32())
		s.write(tail)
		s.inSec = false
	}
}

func (s *stateWriter) end() error {
	s.closeSection()
	s.write([]byte{0xFF})
	return s.err
}

// makeState returns a small state.bin with a node section and a user section.
func makeState(index, term uint64, payloads ...string) []byte {
	var buf bytes.Buffer
	sw := newStateWriter(&buf, 1, index, term)
	sw.section(0)
	sw.chunk([]byte("node-section"))
	for i, p := range payloads {
		sw.section(uint8(node.TypeUser) + uint8(i))
		sw.chunk([]byte(p))
	}
	if err := sw.end(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// fakeSource is a Source that writes a fixed or generated state.bin.
type fakeSource struct {
	index, term uint64
	gen         func(w io.Writer) error
}

func bytesSource(index, term uint64, state []byte) *fakeSource {
	return &fakeSource{index: index, term: term, gen: func(w io.Writer) error {
		_, err := w.Write(state)
		return err
	}}
}

func (f *fakeSource) WriteSnapshot(ctx context.Context, w io.Writer) (node.SnapshotHeader, error) {
	return node.SnapshotHeader{Version: 1, Index: f.index, Term: f.term}, f.gen(w)
}

func (f *fakeSource) Members(context.Context) ([]node.Member, error) {
	return []node.Member{
		{ID: "n1", PeerAddr: "10.0.0.1:2380", Voter: true},
		{ID: "n2", PeerAddr: "10.0.0.2:2380", Voter: true},
		{ID: "n3", PeerAddr: "10.0.0.3:2380", Voter: false},
	}, nil
}

func (f *fakeSource) ClusterID() uint64 { return 0xc0ffee }

// fakeTarget records what Restore hands it.
type fakeTarget struct {
	called bool
	got    []byte
}

func (f *fakeTarget) Rollback(ctx context.Context, r io.Reader) error {
	f.called = true
	var err error
	f.got, err = io.ReadAll(r)
	return err
}

// writeArchiveBytes writes a valid archive of state to memory.
func writeArchiveBytes(t testing.TB, state []byte, sealer Sealer) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, bytesSource(7, 3, state), WriteOptions{Created: testCreated, Sealer: sealer, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// member is one tar entry of a forged archive.
type member struct {
	hdr  tar.Header
	body []byte
}

func regular(name string, body []byte) member {
	return member{hdr: tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: testCreated}, body: body}
}

// decodeArchive splits a valid archive into its members.
func decodeArchive(t testing.TB, archive []byte) []member {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var ms []member
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return ms
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, member{hdr: *hdr, body: body})
	}
}

// encodeArchive writes members as a tar.gz exactly as given (sizes are
// taken from the headers, so a test can make them lie), then appends tail
// uncompressed bytes to the tar stream.
func encodeArchive(t testing.TB, ms []member, tail []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range ms {
		hdr := m.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if len(m.body) > 0 {
			if _, err := tw.Write(m.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tail); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func find(ms []member, name string) int {
	for i, m := range ms {
		if m.hdr.Name == name {
			return i
		}
	}
	return -1
}

// setBody replaces a member's body and size.
func setBody(ms []member, name string, body []byte) {
	i := find(ms, name)
	ms[i].body = body
	ms[i].hdr.Size = int64(len(body))
}

// resum recomputes SHA256SUMS (and reseals with sealer, if the archive is
// sealed), as an attacker without the key could.
func resum(t testing.TB, ms []member, sealer Sealer) []member {
	t.Helper()
	ms = append([]member(nil), ms...)
	m := sha256.Sum256(ms[find(ms, MetaName)].body)
	s := sha256.Sum256(ms[find(ms, StateName)].body)
	sums := sumsFile(m[:], s[:])
	setBody(ms, SumsName, sums)
	if i := find(ms, SealedName); i >= 0 && sealer != nil {
		sealed, err := sealer.Seal(context.Background(), sums)
		if err != nil {
			t.Fatal(err)
		}
		setBody(ms, SealedName, sealed)
	}
	return ms
}

// editMeta decodes meta.json, applies fn and encodes it back.
func editMeta(t testing.TB, ms []member, fn func(m map[string]any)) []member {
	t.Helper()
	ms = append([]member(nil), ms...)
	var m map[string]any
	if err := json.Unmarshal(ms[find(ms, MetaName)].body, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	setBody(ms, MetaName, b)
	return ms
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustHMAC(t testing.TB, b byte) *HMACSealer {
	s, err := NewHMACSealer(testKey(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustAES(t testing.TB, b byte) *AESGCMSealer {
	s, err := NewAESGCMSealer(testKey(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
