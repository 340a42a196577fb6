package node

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// The state.bin format: a header, then one section per state machine, each
// streamed in chunks and closed by its own checksum, then an end marker.
//
//	header:  magic "CONCORD\x00" | version u16 | index u64 | term u64
//	section: type u8 | { chunk length u32 | chunk bytes }* | u32 0 | crc32c u32 of the section's bytes
//	end:     sectionEnd u8
//
// All integers are little endian. Sections appear in increasing type order;
// the node's own section (type 0) comes first. A section never needs to be
// held in memory whole, neither to write nor to read.

// SnapshotVersion is the newest state.bin format version this build writes
// and reads.
const SnapshotVersion = snapshotVersion

const (
	snapshotMagic   = "CONCORD\x00"
	snapshotVersion = 1
	sectionEnd      = 0xFF
	chunkSize       = 256 << 10
	maxChunk        = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotHeader is the header of a state.bin stream.
type SnapshotHeader struct {
	Version uint16
	Index   uint64 // last log index included
	Term    uint64 // its term
}

func writeSnapshotHeader(w io.Writer, h SnapshotHeader) error {
	b := make([]byte, 0, len(snapshotMagic)+18)
	b = append(b, snapshotMagic...)
	b = binary.LittleEndian.AppendUint16(b, h.Version)
	b = binary.LittleEndian.AppendUint64(b, h.Index)
	b = binary.LittleEndian.AppendUint64(b, h.Term)
	_, err := w.Write(b)
	return err
}

// SnapshotVersionError is returned (wrapped) for a state.bin whose format
// version this build does not read. It matches ErrBadSnapshot.
type SnapshotVersionError struct {
	Version   uint16 // the stream's version
	Supported uint16 // the newest version this build reads (SnapshotVersion)
}

func (e *SnapshotVersionError) Error() string {
	return fmt.Sprintf("%v: format version %d is not supported (this build reads up to %d)", ErrBadSnapshot, e.Version, e.Supported)
}

// Is makes a SnapshotVersionError match ErrBadSnapshot.
func (e *SnapshotVersionError) Is(target error) bool { return target == ErrBadSnapshot }

// ReadSnapshotHeader reads and checks the header of a state.bin stream. A
// version it does not read is a *SnapshotVersionError.
func ReadSnapshotHeader(r io.Reader) (SnapshotHeader, error) {
	var h SnapshotHeader
	b := make([]byte, len(snapshotMagic)+18)
	if _, err := io.ReadFull(r, b); err != nil {
		return h, fmt.Errorf("%w: header: %w", ErrBadSnapshot, err)
	}
	if string(b[:len(snapshotMagic)]) != snapshotMagic {
		return h, fmt.Errorf("%w: not a concord snapshot (bad magic)", ErrBadSnapshot)
	}
	b = b[len(snapshotMagic):]
	h.Version = binary.LittleEndian.Uint16(b)
	h.Index = binary.LittleEndian.Uint64(b[2:])
	h.Term = binary.LittleEndian.Uint64(b[10:])
	if h.Version == 0 {
		return h, fmt.Errorf("%w: format version 0", ErrBadSnapshot)
	}
	if h.Version > snapshotVersion {
		return h, &SnapshotVersionError{Version: h.Version, Supported: snapshotVersion}
	}
	return h, nil
}

// sectionWriter frames one section's stream into checksummed chunks.
type sectionWriter struct {
	w   *bufio.Writer
	buf []byte
	crc hash.Hash32
	err error
}

func newSectionWriter(w *bufio.Writer, typ Type) *sectionWriter {
	sw := &sectionWriter{w: w, buf: make([]byte, 0, chunkSize), crc: crc32.New(castagnoli)}
	sw.err = w.WriteByte(byte(typ))
	return sw
}

func (s *sectionWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && s.err == nil {
		take := min(len(p), chunkSize-len(s.buf))
		s.buf = append(s.buf, p[:take]...)
		p = p[take:]
		if len(s.buf) == chunkSize {
			s.flushChunk()
		}
	}
	if s.err != nil {
		return 0, s.err
	}
	return n, nil
}

func (s *sectionWriter) flushChunk() {
	if len(s.buf) == 0 || s.err != nil {
		return
	}
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(len(s.buf)))
	s.crc.Write(s.buf)
	if _, s.err = s.w.Write(l[:]); s.err == nil {
		_, s.err = s.w.Write(s.buf)
	}
	s.buf = s.buf[:0]
}

// close ends the section with a zero-length chunk and the checksum.
func (s *sectionWriter) close() error {
	s.flushChunk()
	if s.err != nil {
		return s.err
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[4:], s.crc.Sum32())
	_, err := s.w.Write(tail[:])
	return err
}

// sectionReader yields one section's bytes and verifies its checksum before
// reporting io.EOF.
type sectionReader struct {
	r      *bufio.Reader
	remain uint32
	crc    hash.Hash32
	done   bool
	err    error
}

func newSectionReader(r *bufio.Reader) *sectionReader {
	return &sectionReader{r: r, crc: crc32.New(castagnoli)}
}

func (s *sectionReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	for s.remain == 0 {
		if s.done {
			return 0, io.EOF
		}
		if s.err = s.nextChunk(); s.err != nil {
			return 0, s.err
		}
	}
	if uint32(len(p)) > s.remain {
		p = p[:s.remain]
	}
	n, err := s.r.Read(p)
	s.crc.Write(p[:n])
	s.remain -= uint32(n)
	if err == io.EOF {
		err = fmt.Errorf("%w: section truncated", ErrBadSnapshot)
	}
	if err != nil {
		s.err = err
	}
	return n, err
}

func (s *sectionReader) nextChunk() error {
	var l [4]byte
	if _, err := io.ReadFull(s.r, l[:]); err != nil {
		return fmt.Errorf("%w: chunk length: %w", ErrBadSnapshot, err)
	}
	n := binary.LittleEndian.Uint32(l[:])
	if n > maxChunk {
		return fmt.Errorf("%w: chunk of %d bytes exceeds %d", ErrBadSnapshot, n, maxChunk)
	}
	if n > 0 {
		s.remain = n
		return nil
	}
	if _, err := io.ReadFull(s.r, l[:]); err != nil {
		return fmt.Errorf("%w: section checksum: %w", ErrBadSnapshot, err)
	}
	if got, want := s.crc.Sum32(), binary.LittleEndian.Uint32(l[:]); got != want {
		return fmt.Errorf("%w: section checksum mismatch (%08x != %08x)", ErrBadSnapshot, got, want)
	}
	s.done = true
	return nil
}

// drain reads the rest of the section, so that the checksum is verified even
// if its consumer stopped early.
func (s *sectionReader) drain() error {
	_, err := io.Copy(io.Discard, s)
	return err
}

// SectionInfo describes one section of a state.bin stream.
type SectionInfo struct {
	Type  Type
	Bytes int64
}

// ScanSnapshot reads a whole state.bin stream, verifying every checksum, and
// reports its header and sections. It holds at most one chunk in memory.
func ScanSnapshot(r io.Reader) (SnapshotHeader, []SectionInfo, error) {
	br := bufio.NewReaderSize(r, chunkSize)
	h, err := ReadSnapshotHeader(br)
	if err != nil {
		return h, nil, err
	}
	var infos []SectionInfo
	err = forEachSection(br, func(typ Type, sr io.Reader) error {
		n, err := io.Copy(io.Discard, sr)
		infos = append(infos, SectionInfo{Type: typ, Bytes: n})
		return err
	})
	return h, infos, err
}

// forEachSection calls fn for each section in order; fn's reader ends at
// the section's end, and the checksum is verified even if fn reads less.
func forEachSection(br *bufio.Reader, fn func(Type, io.Reader) error) error {
	last := -1
	for {
		t, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: missing end marker: %w", ErrBadSnapshot, err)
		}
		if t == sectionEnd {
			if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: data after the end marker", ErrBadSnapshot)
			}
			return nil
		}
		if int(t) <= last {
			return fmt.Errorf("%w: section %d out of order", ErrBadSnapshot, t)
		}
		last = int(t)
		sr := newSectionReader(br)
		if err := fn(Type(t), sr); err != nil {
			return fmt.Errorf("section %d: %w", t, err)
		}
		if err := sr.drain(); err != nil {
			return fmt.Errorf("section %d: %w", t, err)
		}
	}
}

// ForEachSection reads a whole state.bin stream and calls fn for each
// section in order with a reader of the section's bytes; every checksum is
// verified, also when fn reads less than the whole section. Tools use it to
// look inside a snapshot (concord snapshot inspect).
func ForEachSection(r io.Reader, fn func(t Type, r io.Reader) error) (SnapshotHeader, error) {
	br := bufio.NewReaderSize(r, chunkSize)
	h, err := ReadSnapshotHeader(br)
	if err != nil {
		return h, err
	}
	return h, forEachSection(br, fn)
}
