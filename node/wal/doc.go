// Package wal is the node's raft log: a raft.LogStore and raft.StableStore
// that appends each batch of entries to a segment file with one write(2)
// and one fdatasync(2).
//
// It replaces node/logstore (bbolt) for new data dirs: there a batch was
// a bbolt transaction with B+tree work and two fdatasyncs (data, then the
// meta page), about a quarter of each member's CPU under load. And it
// replaces hashicorp/raft-wal v0.4.0, which loses the log after raft
// truncates its tail (hashicorp/raft-wal#31). Open recovers from a crash
// at any point of any operation, which the tests check step by step.
//
// # Files
//
// A log directory holds:
//
//	00000000000000000001.seg   segments, named by their first entry's index
//	bounds                     the first index (head deletions) and an unfinished tail deletion
//	stable                     raft's stable store (term, vote)
//	LOCK                       flock'ed while open
//
// A segment is a sequence of records, each [length | crc32c | payload]
// with the payload holding every field of raft.Log (record.go). Only the
// last segment is appended to; a batch that would grow it past
// Options.SegmentSize starts a new one. An in-memory index maps each entry
// to its segment and offset, built by Open's scan, and GetLog reads an
// entry with one pread.
//
// # Crash safety
//
//   - StoreLogs: one write, one fdatasync, then the entries are visible.
//     Only the final batch can be torn by a crash; Open cuts it away and
//     fails on damage anywhere else (scan.go). A new segment's directory
//     entry is fsynced before the batch is written into it.
//   - DeleteRange of a prefix: committed by an atomic rewrite of the
//     bounds file (temporary file, fsync, rename, directory fsync); whole
//     segments below the new first index are then removed, oldest first.
//   - DeleteRange of a suffix: committed by recording the truncation point
//     in the bounds file; later segments are then removed, newest first,
//     the segment holding the new last entry is cut (ftruncate, fsync),
//     and the point is cleared. Open finishes an interrupted truncation.
//   - Set: one frame holding the whole stable store is appended to the
//     stable file and fdatasync'ed; Open cuts a torn final frame, whose
//     Set never returned, and compacts the file by an atomic rewrite, so
//     damage to any other frame is detected (stable.go). Set creates no
//     file, so it keeps working if the directory is removed under a
//     running process, as it did on bbolt (raft panics when a Set fails).
//
// After an IO error in a write the log refuses further writes until it is
// reopened, since what reached the disk is then unknown (fsync errors are
// not retried: the kernel may have dropped the dirty pages).
//
// # Usage
//
//	l, err := wal.Open(filepath.Join(dataDir, "wal"), wal.Options{Logger: logger})
//	if err != nil {
//		return err
//	}
//	defer l.Close()
//	r, err := raft.NewRaft(conf, fsm, l, l, snapshots, transport)
package wal
