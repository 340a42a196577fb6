package snapshot

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/concord-db/concord/node"
)

// Target is what Restore installs a verified state.bin into. *node.Node
// satisfies it (only on the leader; see node.Node.Rollback).
type Target interface {
	Rollback(ctx context.Context, r io.Reader) error
}

// Parse verifies the archive read from r and then copies its state.bin to
// out. state.bin is spooled to a temporary file in opts.TempDir while the
// archive is verified, so out receives nothing unless the whole archive
// verified.
func Parse(ctx context.Context, r io.Reader, opts VerifyOptions, out io.Writer) (*Archive, error) {
	return withVerifiedState(ctx, r, opts, func(state io.Reader) error {
		if _, err := io.Copy(out, ctxReader{ctx, state}); err != nil {
			return fmt.Errorf("parse archive: %w", err)
		}
		return nil
	})
}

// Restore verifies the archive read from r and then streams its state.bin
// into target.Rollback. Nothing reaches target unless the whole archive
// verified; target's own errors (node.ErrNotLeader, ...) are returned
// wrapped.
func Restore(ctx context.Context, r io.Reader, target Target, opts VerifyOptions) (*Archive, error) {
	return withVerifiedSpool(ctx, r, opts, func(state io.Reader, spool *os.File) error {
		var err error
		if ft, ok := target.(FileTarget); ok {
			err = ft.RollbackFile(ctx, spool)
		} else {
			err = target.Rollback(ctx, state)
		}
		if err != nil {
			return fmt.Errorf("restore archive: %w", err)
		}
		return nil
	})
}

// FileTarget is a Target that takes the verified state.bin as the spooled
// file itself, so that it is not copied once more. *node.Node satisfies it.
type FileTarget interface {
	RollbackFile(ctx context.Context, f *os.File) error
}

var _ FileTarget = (*node.Node)(nil)

// withVerifiedState verifies the archive while spooling state.bin, then
// hands the spooled state.bin to fn.
func withVerifiedState(ctx context.Context, r io.Reader, opts VerifyOptions, fn func(io.Reader) error) (*Archive, error) {
	return withVerifiedSpool(ctx, r, opts, func(state io.Reader, _ *os.File) error { return fn(state) })
}

// withVerifiedSpool is withVerifiedState that also hands fn the spool file
// (exactly state.bin, positioned at its start).
func withVerifiedSpool(ctx context.Context, r io.Reader, opts VerifyOptions, fn func(io.Reader, *os.File) error) (*Archive, error) {
	spool, err := os.CreateTemp(opts.TempDir, "concord-state-*.bin")
	if err != nil {
		return nil, fmt.Errorf("spool state.bin: %w", err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	a, err := verify(ctx, r, opts, spool)
	if err != nil {
		return nil, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("spool state.bin: %w", err)
	}
	if err := fn(io.LimitReader(spool, a.Meta.Size), spool); err != nil {
		return nil, err
	}
	return a, nil
}
