package snapshot

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
)

// Default limits for VerifyOptions.
const (
	// DefaultMaxMetaSize caps meta.json.
	DefaultMaxMetaSize = 1 << 20
	// DefaultMaxStateSize caps state.bin, and with it the expanded archive.
	DefaultMaxStateSize = 64 << 30
	// maxSumsSize caps SHA256SUMS and SHA256SUMS.sealed.
	maxSumsSize = 64 << 10
	// expandSlack is how many decompressed bytes beyond meta.json and the
	// declared state.bin size an archive may hold: tar headers, SHA256SUMS,
	// its seal and the tar trailer with padding.
	expandSlack = 2 << 20
)

// errExpanded is returned by limitReader when the decompressed stream runs
// past its limit.
var errExpanded = errors.New("decompressed size limit reached")

// limitReader counts the decompressed bytes read through it and fails once
// they would exceed limit (which grows once meta.json declares the size). It
// also stops when ctx ends.
type limitReader struct {
	ctx   context.Context
	log   *faultLog
	r     io.Reader
	n     int64
	limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, l.log.record(err)
	}
	if l.n >= l.limit {
		var one [1]byte
		k, err := l.r.Read(one[:])
		if k > 0 {
			return 0, errExpanded
		}
		return 0, err
	}
	if rest := l.limit - l.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := l.r.Read(p)
	l.n += int64(k)
	return k, err
}

// hashReader hashes and counts the raw archive bytes, and tags errors from
// the caller's reader as faults (not the archive's).
type hashReader struct {
	r   io.Reader
	log *faultLog
	h   hash.Hash
	n   int64
	// lag hashes the same bytes as h but holds the last lagBytes back in
	// tail, so that the digest of everything before an etcd trailer can be
	// computed once the end is known.
	lag  hash.Hash
	tail []byte
}

// lagBytes is how far lag may trail: at most an etcd block of padding and
// the digest.
const lagBytes = etcdBlock + sha256.Size

// Etcd's snapshot stream is padded with zeros to a multiple of etcdBlock
// bytes and followed by the sha-256 of everything before it; etcdctl
// snapshot save keeps both in the file it writes, so readers accept them
// after the gzip stream (server/etcdapi's Maintenance.Snapshot adds them).
const etcdBlock = 512

func newHashReader(r io.Reader, log *faultLog) *hashReader {
	return &hashReader{r: r, log: log, h: sha256.New(), lag: sha256.New()}
}

func (c *hashReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.h.Write(p[:k])
	c.n += int64(k)
	c.tail = append(c.tail, p[:k]...)
	if len(c.tail) > 4*lagBytes {
		cut := len(c.tail) - lagBytes
		c.lag.Write(c.tail[:cut])
		c.tail = c.tail[:copy(c.tail, c.tail[cut:])]
	}
	if err != nil && err != io.EOF {
		err = c.log.record(err)
	}
	return k, err
}

// prefixSum returns the sha-256 of every byte read except the last n
// (n <= lagBytes). It may be called once, at the end.
func (c *hashReader) prefixSum(n int) []byte {
	c.lag.Write(c.tail[:len(c.tail)-n])
	return c.lag.Sum(nil)
}

// faultLog keeps the first error that is not the archive's fault: the
// caller's reader or writer failed, or the context ended. Such errors are
// returned as they are, never as ErrCorrupt, even when they surface through
// a decoder that flattens them (node.ScanSnapshot).
type faultLog struct{ err error }

func (f *faultLog) record(err error) error {
	if f.err == nil {
		f.err = err
	}
	return err
}

// faultWriter records errors from the caller's writer.
type faultWriter struct {
	w   io.Writer
	log *faultLog
}

func (f faultWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		err = f.log.record(err)
	}
	return n, err
}
