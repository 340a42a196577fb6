package snapshot

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/concord-db/concord/node"
)

// VerifyOptions configures Verify, Parse and Restore.
type VerifyOptions struct {
	// Sealer opens SHA256SUMS.sealed. It must be set for sealed archives and
	// nil for unsealed ones; either mismatch is ErrSeal.
	Sealer Sealer
	// SkipSeal accepts a sealed archive without opening its seal (Sealer
	// must then be nil): for a server that holds no key, after the client
	// that does checked the seal. Everything else is verified, and the seal
	// member must still be well formed in place and size.
	SkipSeal bool
	// MaxMetaSize caps meta.json. Default DefaultMaxMetaSize (1 MiB).
	MaxMetaSize int64
	// MaxStateSize caps state.bin, whatever meta.json declares. The
	// decompressed archive may not exceed meta.json plus the declared
	// state.bin size plus 2 MiB for headers and sums. Default
	// DefaultMaxStateSize (64 GiB).
	MaxStateSize int64
	// TempDir is where Parse and Restore spool state.bin until the archive is
	// verified. Default os.TempDir(). It needs room for one state.bin.
	TempDir string
}

func (o VerifyOptions) withDefaults() VerifyOptions {
	if o.MaxMetaSize <= 0 {
		o.MaxMetaSize = DefaultMaxMetaSize
	}
	if o.MaxStateSize <= 0 {
		o.MaxStateSize = DefaultMaxStateSize
	}
	return o
}

// Verify reads a whole archive from r and checks it: gzip and tar framing,
// member names, types and order, size limits, meta.json, state.bin's own
// checksums and its agreement with meta.json, SHA256SUMS, the seal, and that
// nothing follows. It streams: memory use does not depend on the archive's
// size. It returns the archive's description, or an *Error wrapping
// ErrCorrupt, ErrChecksum, ErrSeal, ErrVersion or ErrTooLarge.
func Verify(ctx context.Context, r io.Reader, opts VerifyOptions) (*Archive, error) {
	return verify(ctx, r, opts, nil)
}

// verifier walks one archive stream.
type verifier struct {
	ctx      context.Context
	opts     VerifyOptions
	faults   faultLog
	raw      *hashReader
	rawBuf   *bufio.Reader
	zr       *gzip.Reader
	expanded *limitReader
	tr       *tar.Reader
	seen     []string

	meta     Meta
	metaSum  []byte
	stateSum []byte
	stateErr error // state.bin's own verdict, reported once the sums are known to match
	sums     []byte
}

// verify checks the archive read from r; state.bin's bytes are also written
// to state (if not nil) as they are read, before they are verified.
func verify(ctx context.Context, r io.Reader, opts VerifyOptions, state io.Writer) (*Archive, error) {
	v := &verifier{ctx: ctx, opts: opts.withDefaults()}
	if err := v.run(r, state); err != nil {
		if v.faults.err != nil {
			return nil, fmt.Errorf("verify archive: %w", v.faults.err)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("verify archive: %w", err)
		}
		return nil, err
	}
	a := &Archive{Meta: v.meta, size: v.raw.n}
	v.raw.h.Sum(a.sum[:0])
	return a, nil
}

func (v *verifier) run(r io.Reader, state io.Writer) error {
	v.raw = newHashReader(r, &v.faults)
	v.rawBuf = bufio.NewReader(v.raw)
	zr, err := gzip.NewReader(v.rawBuf)
	if err != nil {
		return v.readErr("", err)
	}
	zr.Multistream(false)
	v.zr = zr
	v.expanded = &limitReader{ctx: v.ctx, log: &v.faults, r: zr, limit: v.opts.MaxMetaSize + expandSlack}
	v.tr = tar.NewReader(v.expanded)
	if err := v.readMeta(); err != nil {
		return err
	}
	if err := v.readState(state); err != nil {
		return err
	}
	if err := v.readSums(); err != nil {
		return err
	}
	if err := v.readSeal(); err != nil {
		return err
	}
	if err := v.readEnd(); err != nil {
		return err
	}
	// state.bin's own verdict comes last: a mismatch with SHA256SUMS or the
	// seal says more (the file was altered after it was written).
	return v.stateErr
}

// next reads the next tar header and checks that it is the member want.
func (v *verifier) next(want string) (*tar.Header, error) {
	hdr, err := v.tr.Next()
	if err == io.EOF {
		return nil, errorf("verify", want, ErrCorrupt, "missing: the archive ends before it")
	}
	if err != nil {
		return nil, v.readErr(want, err)
	}
	if err := checkEntry(hdr); err != nil {
		return nil, err
	}
	if hdr.Name != want {
		switch {
		case slices.Contains(v.seen, hdr.Name):
			return nil, errorf("verify", hdr.Name, ErrCorrupt, "appears twice")
		case isMember(hdr.Name):
			return nil, errorf("verify", hdr.Name, ErrCorrupt, "out of order: expected %s here", want)
		default:
			return nil, errorf("verify", hdr.Name, ErrCorrupt, "unexpected member (expected %s)", want)
		}
	}
	v.seen = append(v.seen, hdr.Name)
	return hdr, nil
}

func isMember(name string) bool {
	return name == MetaName || name == StateName || name == SumsName || name == SealedName
}

// checkEntry refuses anything but a regular file with a plain name.
func checkEntry(hdr *tar.Header) error {
	name := hdr.Name
	switch {
	case strings.HasPrefix(name, "/"):
		return errorf("verify", name, ErrCorrupt, "absolute path")
	case slices.Contains(strings.Split(strings.ReplaceAll(name, `\`, "/"), "/"), ".."):
		return errorf("verify", name, ErrCorrupt, "path traversal (\"..\")")
	}
	var kind string
	switch hdr.Typeflag {
	case tar.TypeReg: // the reader turns the old TypeRegA into TypeReg
	case tar.TypeSymlink:
		kind = fmt.Sprintf("a symbolic link to %q", hdr.Linkname)
	case tar.TypeLink:
		kind = fmt.Sprintf("a hard link to %q", hdr.Linkname)
	case tar.TypeDir:
		kind = "a directory"
	case tar.TypeChar, tar.TypeBlock:
		kind = "a device"
	case tar.TypeFifo:
		kind = "a named pipe"
	default:
		kind = fmt.Sprintf("of tar type %q", hdr.Typeflag)
	}
	if kind == "" && hdr.Linkname != "" {
		kind = fmt.Sprintf("a regular file with a link name %q", hdr.Linkname)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			kind = "a sparse file"
		}
	}
	if kind != "" {
		return errorf("verify", name, ErrCorrupt, "is %s; only regular files are allowed", kind)
	}
	return nil
}

// readErr classifies an error from the gzip or tar decoder.
func (v *verifier) readErr(member string, err error) error {
	switch {
	case v.faults.err != nil:
		return v.faults.err
	case errors.Is(err, errExpanded):
		return errorf("verify", member, ErrTooLarge, "decompresses to more than %d bytes (meta.json, the state.bin size it declares and %d bytes for framing)",
			v.expanded.limit, expandSlack)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errorf("verify", member, ErrCorrupt, "truncated")
	}
	return errorf("verify", member, ErrCorrupt, "%v", err)
}

func (v *verifier) readMeta() error {
	hdr, err := v.next(MetaName)
	if err != nil {
		return err
	}
	if hdr.Size > v.opts.MaxMetaSize {
		return errorf("verify", MetaName, ErrTooLarge, "%d bytes, the limit is %d", hdr.Size, v.opts.MaxMetaSize)
	}
	b := make([]byte, hdr.Size)
	if _, err := io.ReadFull(v.tr, b); err != nil {
		return v.readErr(MetaName, err)
	}
	sum := sha256.Sum256(b)
	v.metaSum = sum[:]
	if err := decodeMeta(b, &v.meta); err != nil {
		return err
	}
	m := &v.meta
	if m.Size > v.opts.MaxStateSize {
		return errorf("verify", MetaName, ErrTooLarge, "declares a state.bin of %d bytes, the limit is %d", m.Size, v.opts.MaxStateSize)
	}
	if m.Sealed && v.opts.Sealer == nil && !v.opts.SkipSeal {
		return errorf("verify", MetaName, ErrSeal, "the archive is sealed: its key is needed to verify it")
	}
	if !m.Sealed && v.opts.Sealer != nil {
		return errorf("verify", MetaName, ErrSeal, "the archive is not sealed, but a sealer was given")
	}
	v.expanded.limit = v.expanded.n + m.Size + expandSlack
	return nil
}

// decodeMeta parses meta.json, checking its version before anything else.
func decodeMeta(b []byte, m *Meta) error {
	var ver struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &ver); err != nil {
		return errorf("verify", MetaName, ErrCorrupt, "not valid JSON: %v", err)
	}
	switch {
	case ver.Version == nil || *ver.Version < 1:
		return errorf("verify", MetaName, ErrCorrupt, "no valid format version")
	case *ver.Version > FormatVersion:
		return errorf("verify", MetaName, ErrVersion, "format version %d is newer than this build reads (%d)", *ver.Version, FormatVersion)
	}
	if err := json.Unmarshal(b, m); err != nil {
		return errorf("verify", MetaName, ErrCorrupt, "%v", err)
	}
	if m.Size < 0 {
		return errorf("verify", MetaName, ErrCorrupt, "negative state.bin size %d", m.Size)
	}
	return nil
}

// readState streams state.bin through its sha-256 and node.ScanSnapshot,
// and into state if it is set.
func (v *verifier) readState(state io.Writer) error {
	hdr, err := v.next(StateName)
	if err != nil {
		return err
	}
	if hdr.Size != v.meta.Size {
		return errorf("verify", StateName, ErrCorrupt, "%d bytes, but meta.json says %d", hdr.Size, v.meta.Size)
	}
	h := sha256.New()
	sink := io.Writer(h)
	if state != nil {
		sink = io.MultiWriter(h, faultWriter{w: state, log: &v.faults})
	}
	br := bufio.NewReaderSize(io.TeeReader(v.tr, sink), 64<<10)
	v.stateErr = v.scanState(br)
	_, err = io.Copy(io.Discard, br)
	if err != nil {
		return v.readErr(StateName, err)
	}
	if v.faults.err != nil {
		return v.faults.err
	}
	v.stateSum = h.Sum(nil)
	return nil
}

// scanState checks state.bin's header, sections and checksums, and that they
// agree with meta.json.
func (v *verifier) scanState(br *bufio.Reader) error {
	h, sections, err := node.ScanSnapshot(br)
	if ve := (*node.SnapshotVersionError)(nil); errors.As(err, &ve) {
		return &Error{Op: "verify", Member: StateName, Err: fmt.Errorf("%w: %w", ErrVersion, err)}
	}
	if err != nil {
		return &Error{Op: "verify", Member: StateName, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}
	}
	m := &v.meta
	if h.Index != m.Index || h.Term != m.Term || h.Version != m.StateVersion {
		return errorf("verify", StateName, ErrCorrupt, "header says index %d term %d version %d, meta.json says %d/%d/%d",
			h.Index, h.Term, h.Version, m.Index, m.Term, m.StateVersion)
	}
	got := sectionsFrom(sections)
	if !slices.EqualFunc(got, m.Sections, func(a, b Section) bool { return a.Type == b.Type && a.Bytes == b.Bytes }) {
		return errorf("verify", StateName, ErrCorrupt, "sections %v differ from meta.json's %v", got, m.Sections)
	}
	return nil
}

func (v *verifier) readSums() error {
	hdr, err := v.next(SumsName)
	if err != nil {
		return err
	}
	if hdr.Size > maxSumsSize {
		return errorf("verify", SumsName, ErrTooLarge, "%d bytes, the limit is %d", hdr.Size, maxSumsSize)
	}
	b := make([]byte, hdr.Size)
	if _, err := io.ReadFull(v.tr, b); err != nil {
		return v.readErr(SumsName, err)
	}
	sums, err := parseSums(b)
	if err != nil {
		return errorf("verify", SumsName, ErrCorrupt, "%v", err)
	}
	for _, c := range []struct {
		name string
		got  []byte
	}{{MetaName, v.metaSum}, {StateName, v.stateSum}} {
		if !bytes.Equal(c.got, sums[c.name]) {
			return errorf("verify", c.name, ErrChecksum, "sha-256 is %x, SHA256SUMS says %x", c.got, sums[c.name])
		}
	}
	if !bytes.Equal(b, sumsFile(v.metaSum, v.stateSum)) {
		return errorf("verify", SumsName, ErrCorrupt, "not in canonical form")
	}
	v.sums = b
	return nil
}

// readSeal opens SHA256SUMS.sealed, if the archive has one, and checks that
// it holds exactly SHA256SUMS.
func (v *verifier) readSeal() error {
	hdr, err := v.tr.Next()
	if err == io.EOF {
		if v.opts.Sealer != nil {
			return errorf("verify", SealedName, ErrSeal, "missing: the archive is not sealed")
		}
		if v.meta.Sealed {
			return errorf("verify", SealedName, ErrCorrupt, "missing, but meta.json says the archive is sealed")
		}
		return nil
	}
	if err != nil {
		return v.readErr(SealedName, err)
	}
	if err := checkEntry(hdr); err != nil {
		return err
	}
	if hdr.Name != SealedName {
		return v.unexpected(hdr.Name)
	}
	v.seen = append(v.seen, hdr.Name)
	if v.opts.Sealer == nil && !v.opts.SkipSeal {
		return errorf("verify", SealedName, ErrSeal, "the archive is sealed: its key is needed to verify it")
	}
	if !v.meta.Sealed {
		return errorf("verify", SealedName, ErrCorrupt, "present, but meta.json says the archive is not sealed")
	}
	if hdr.Size > maxSumsSize {
		return errorf("verify", SealedName, ErrTooLarge, "%d bytes, the limit is %d", hdr.Size, maxSumsSize)
	}
	sealed := make([]byte, hdr.Size)
	if _, err := io.ReadFull(v.tr, sealed); err != nil {
		return v.readErr(SealedName, err)
	}
	if v.opts.SkipSeal && v.opts.Sealer == nil {
		return v.readTrailer()
	}
	opened, err := v.opts.Sealer.Open(v.ctx, sealed)
	if err != nil {
		if v.ctx.Err() != nil {
			return v.ctx.Err()
		}
		if errors.Is(err, ErrSeal) {
			return &Error{Op: "verify", Member: SealedName, Err: err}
		}
		return errorf("verify", SealedName, ErrSeal, "%v", err)
	}
	if !bytes.Equal(opened, v.sums) {
		return errorf("verify", SealedName, ErrSeal, "the sealed sums differ from SHA256SUMS")
	}
	return v.readTrailer()
}

// readTrailer checks that no member follows the seal.
func (v *verifier) readTrailer() error {
	if _, err := v.tr.Next(); err != io.EOF {
		if err != nil {
			return v.readErr("", err)
		}
		return v.unexpectedAfter()
	}
	return nil
}

func (v *verifier) unexpected(name string) error {
	if slices.Contains(v.seen, name) {
		return errorf("verify", name, ErrCorrupt, "appears twice")
	}
	if isMember(name) {
		return errorf("verify", name, ErrCorrupt, "out of order")
	}
	return errorf("verify", name, ErrCorrupt, "unexpected member after %s", v.seen[len(v.seen)-1])
}

func (v *verifier) unexpectedAfter() error {
	return errorf("verify", "", ErrCorrupt, "unexpected member after %s", v.seen[len(v.seen)-1])
}

// readEnd checks that only zero padding follows the tar stream and nothing
// follows the gzip stream.
func (v *verifier) readEnd() error {
	buf := make([]byte, 32<<10)
	for {
		n, err := v.expanded.Read(buf)
		if slices.ContainsFunc(buf[:n], func(b byte) bool { return b != 0 }) {
			return errorf("verify", "", ErrCorrupt, "data after the end of the tar stream")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return v.readErr("", err)
		}
	}
	rest, err := io.ReadAll(io.LimitReader(v.rawBuf, lagBytes+1))
	if err != nil {
		return v.readErr("", err)
	}
	if len(rest) > 0 && !v.etcdTrailer(rest) {
		return errorf("verify", "", ErrCorrupt, "data after the end of the gzip stream")
	}
	return nil
}

// etcdTrailer reports whether rest, all that follows the gzip stream, is
// the padding and digest etcd's snapshot stream ends with.
func (v *verifier) etcdTrailer(rest []byte) bool {
	if len(rest) < sha256.Size || len(rest) > lagBytes || v.raw.n%etcdBlock != sha256.Size {
		return false
	}
	pad, sum := rest[:len(rest)-sha256.Size], rest[len(rest)-sha256.Size:]
	if slices.ContainsFunc(pad, func(b byte) bool { return b != 0 }) {
		return false
	}
	return bytes.Equal(sum, v.raw.prefixSum(sha256.Size))
}
