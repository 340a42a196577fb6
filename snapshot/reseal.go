package snapshot

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

// Reseal verifies the archive read from r (with in) and writes it to w
// again, sealed by out.Sealer, or unsealed if out.Sealer is nil. meta.json
// keeps every field but "sealed"; state.bin is copied byte for byte (through
// a temporary file in in.TempDir), so the index, term, sections and
// creation time are the original's; out.Created is ignored. Nothing is
// written to w unless the input verified.
//
// The CLI uses it to seal an archive a server streamed (servers hold no
// keys) and to strip the seal before uploading an archive it checked.
func Reseal(ctx context.Context, w io.Writer, r io.Reader, in VerifyOptions, out WriteOptions) (*Archive, error) {
	spool, err := os.CreateTemp(in.TempDir, "concord-state-*.bin")
	if err != nil {
		return nil, fmt.Errorf("spool state.bin: %w", err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	a, err := verify(ctx, r, in, spool)
	if err != nil {
		return nil, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("spool state.bin: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, spool); err != nil {
		return nil, fmt.Errorf("spool state.bin: %w", err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("spool state.bin: %w", err)
	}
	meta := a.Meta
	meta.Sealed = out.Sealer != nil
	return writeArchive(ctx, w, &meta, h.Sum(nil), io.LimitReader(spool, meta.Size), out)
}
