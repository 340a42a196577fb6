// Package snapshot writes and reads concord's snapshot archives: the files
// operators keep as backups and restore from.
//
// An archive is a gzip-compressed tar holding, in this order:
//
//	meta.json          the Meta: format version, index, term, members, cluster id, sizes, sections
//	state.bin          the node's snapshot stream (node/snapfmt.go), byte for byte
//	SHA256SUMS         sha-256 of meta.json and state.bin, in sha256sum's format
//	SHA256SUMS.sealed  only in sealed archives: SHA256SUMS sealed by a Sealer
//
// so `tar -xzf backup.snap && sha256sum -c SHA256SUMS` checks an archive
// without concord. See docs/snapshots.md for the format and the procedures.
//
// Write takes a snapshot from a node (a Source) into an archive, WriteFile
// does so atomically on disk. Verify checks an archive completely, streaming;
// Parse verifies and then hands out state.bin; Restore verifies and then
// installs state.bin through the leader (a Target). Every refusal is an
// *Error wrapping ErrCorrupt, ErrChecksum, ErrSeal, ErrVersion or
// ErrTooLarge.
//
// # Usage
//
//	a, err := snapshot.WriteFile(ctx, "backup.snap", n, snapshot.WriteOptions{Created: time.Now()})
//	...
//	f, _ := os.Open("backup.snap")
//	a, err = snapshot.Restore(ctx, f, leader, snapshot.VerifyOptions{})
//	if errors.Is(err, snapshot.ErrChecksum) { ... } // the file was damaged
package snapshot
