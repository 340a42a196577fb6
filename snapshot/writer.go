package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/concord-db/concord/node"
)

// Source is what Write takes a snapshot from. *node.Node satisfies it.
type Source interface {
	// WriteSnapshot streams a consistent state.bin (node/snapfmt.go) to w
	// and returns its header.
	WriteSnapshot(ctx context.Context, w io.Writer) (node.SnapshotHeader, error)
	// Members returns the cluster's configuration.
	Members(ctx context.Context) ([]node.Member, error)
	// ClusterID returns the cluster's id (0 if none was chosen yet).
	ClusterID() uint64
}

var _ Source = (*node.Node)(nil)

// ConfigSource is a Source that also reports the configuration stored with
// the snapshot it writes (the members at the snapshot's index). Write uses
// it when src implements it, and Members otherwise.
type ConfigSource interface {
	WriteSnapshotInfo(ctx context.Context, w io.Writer) (node.SnapshotInfo, error)
}

var _ ConfigSource = (*node.Node)(nil)

// WriteOptions configures Write and WriteFile.
type WriteOptions struct {
	// Created is recorded in meta.json as the creation time. Required: the
	// package never reads the clock itself.
	Created time.Time
	// Sealer, if set, seals SHA256SUMS into SHA256SUMS.sealed.
	Sealer Sealer
	// TempDir is where state.bin is spooled while it is written. Default:
	// os.TempDir(). It needs room for one state.bin.
	TempDir string
	// Level is the gzip compression level. Default (0): gzip.DefaultCompression.
	Level int
}

// Write takes a snapshot from src and writes it to w as an archive:
// state.bin is spooled to a temporary file while its sha-256 is computed,
// checked with node.ScanSnapshot, and then written into the gzip-compressed
// tar after meta.json, followed by SHA256SUMS (and SHA256SUMS.sealed if
// opts.Sealer is set). Memory use does not depend on the state's size.
// Nothing is written to w unless the snapshot was taken and checked.
func Write(ctx context.Context, w io.Writer, src Source, opts WriteOptions) (*Archive, error) {
	if opts.Created.IsZero() {
		return nil, &Error{Op: "write", Err: errors.New("WriteOptions.Created is required")}
	}
	spool, err := os.CreateTemp(opts.TempDir, "concord-state-*.bin")
	if err != nil {
		return nil, &Error{Op: "write", Err: fmt.Errorf("spool state.bin: %w", err)}
	}
	defer os.Remove(spool.Name())
	defer spool.Close()

	meta, stateSum, err := takeSnapshot(ctx, spool, src, opts)
	if err != nil {
		return nil, &Error{Op: "write", Member: StateName, Err: err}
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, &Error{Op: "write", Member: StateName, Err: err}
	}
	a, err := writeArchive(ctx, w, meta, stateSum, spool, opts)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// takeSnapshot streams src's state.bin into spool and builds the metadata.
func takeSnapshot(ctx context.Context, spool *os.File, src Source, opts WriteOptions) (*Meta, []byte, error) {
	h := sha256.New()
	var (
		hdr     node.SnapshotHeader
		members []node.Member
		err     error
	)
	if cs, ok := src.(ConfigSource); ok {
		var info node.SnapshotInfo
		info, err = cs.WriteSnapshotInfo(ctx, io.MultiWriter(spool, h))
		hdr, members = info.SnapshotHeader, info.Configuration
	} else {
		hdr, err = src.WriteSnapshot(ctx, io.MultiWriter(spool, h))
	}
	if err != nil {
		return nil, nil, err
	}
	size, err := spool.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, nil, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	scanned, sections, err := node.ScanSnapshot(spool)
	if err != nil {
		return nil, nil, fmt.Errorf("the source wrote an invalid state.bin: %w", err)
	}
	if scanned.Index != hdr.Index || scanned.Term != hdr.Term {
		return nil, nil, fmt.Errorf("state.bin header says index %d term %d, the source said %d/%d",
			scanned.Index, scanned.Term, hdr.Index, hdr.Term)
	}
	if members == nil {
		if members, err = src.Members(ctx); err != nil {
			return nil, nil, fmt.Errorf("members: %w", err)
		}
	}
	meta := &Meta{
		Version:      FormatVersion,
		Index:        scanned.Index,
		Term:         scanned.Term,
		StateVersion: scanned.Version,
		ClusterID:    strconv.FormatUint(src.ClusterID(), 16),
		Members:      make([]Member, len(members)),
		Size:         size,
		Created:      opts.Created.UTC(),
		Sealed:       opts.Sealer != nil,
		Sections:     sectionsFrom(sections),
	}
	for i, m := range members {
		meta.Members[i] = Member{ID: m.ID, PeerAddr: m.PeerAddr, Voter: m.Voter}
	}
	return meta, h.Sum(nil), nil
}

// writeArchive writes the tar.gz to w, hashing and counting what it writes.
func writeArchive(ctx context.Context, w io.Writer, meta *Meta, stateSum []byte, state io.Reader, opts WriteOptions) (*Archive, error) {
	metaJSON, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, &Error{Op: "write", Member: MetaName, Err: err}
	}
	metaJSON = append(metaJSON, '\n')
	metaSum := sha256.Sum256(metaJSON)
	sums := sumsFile(metaSum[:], stateSum)
	var sealed []byte
	if opts.Sealer != nil {
		if sealed, err = opts.Sealer.Seal(ctx, sums); err != nil {
			return nil, &Error{Op: "write", Member: SealedName, Err: err}
		}
	}

	out := &countingWriter{w: w, h: sha256.New()}
	level := opts.Level
	if level == 0 {
		level = gzip.DefaultCompression
	}
	zw, err := gzip.NewWriterLevel(out, level)
	if err != nil {
		return nil, &Error{Op: "write", Err: err}
	}
	tw := tar.NewWriter(zw)
	mtime := meta.Created.Truncate(time.Second)
	add := func(name string, size int64, r io.Reader) error {
		hdr := &tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: mtime, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return &Error{Op: "write", Member: name, Err: err}
		}
		if _, err := io.Copy(tw, ctxReader{ctx, r}); err != nil {
			return &Error{Op: "write", Member: name, Err: err}
		}
		return nil
	}
	if err := add(MetaName, int64(len(metaJSON)), bytes.NewReader(metaJSON)); err != nil {
		return nil, err
	}
	if err := add(StateName, meta.Size, state); err != nil {
		return nil, err
	}
	if err := add(SumsName, int64(len(sums)), bytes.NewReader(sums)); err != nil {
		return nil, err
	}
	if sealed != nil {
		if err := add(SealedName, int64(len(sealed)), bytes.NewReader(sealed)); err != nil {
			return nil, err
		}
	}
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		return nil, &Error{Op: "write", Err: err}
	}
	a := &Archive{Meta: *meta, size: out.n}
	out.h.Sum(a.sum[:0])
	return a, nil
}

// WriteFile writes an archive to path atomically: into a temporary file in
// the same directory, fsynced, renamed over path, and the directory fsynced.
// On error path is left as it was.
func WriteFile(ctx context.Context, path string, src Source, opts WriteOptions) (a *Archive, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, &Error{Op: "write", Err: err}
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if a, err = Write(ctx, f, src, opts); err != nil {
		return nil, err
	}
	if err = f.Sync(); err != nil {
		return nil, &Error{Op: "write", Err: err}
	}
	if err = f.Close(); err != nil {
		return nil, &Error{Op: "write", Err: err}
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return nil, &Error{Op: "write", Err: err}
	}
	if err = syncDir(dir); err != nil {
		return nil, &Error{Op: "write", Err: err}
	}
	return a, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// countingWriter counts and hashes the bytes written through it.
type countingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
