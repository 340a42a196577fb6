package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/snapshot"
)

// sectionStats describes one section of state.bin for inspect.
type sectionStats struct {
	Type    uint8  `json:"type"`
	Name    string `json:"name"`
	Bytes   int64  `json:"bytes"`
	Entries int64  `json:"entries"`
	Detail  string `json:"detail,omitempty"`
}

// inspectFile verifies the archive at path and then reads its state.bin
// section by section, streaming: nothing is held whole in memory.
func inspectFile(ctx context.Context, path string, opts snapshot.VerifyOptions) (*snapshot.Archive, []sectionStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	var stats []sectionStats
	done := make(chan error, 1)
	go func() {
		_, err := node.ForEachSection(pr, func(t node.Type, r io.Reader) error {
			cr := &countingReader{r: r}
			s := sectionStats{Type: uint8(t), Name: snapshot.SectionName(uint8(t))}
			s.Entries, s.Detail = countEntries(t, bufio.NewReaderSize(cr, 256<<10))
			if _, err := io.Copy(io.Discard, cr); err != nil {
				return err
			}
			s.Bytes = cr.n
			stats = append(stats, s)
			return nil
		})
		pr.CloseWithError(err)
		done <- err
	}()
	a, err := snapshot.Parse(ctx, bufio.NewReaderSize(f, 1<<20), opts, pw)
	pw.CloseWithError(err)
	serr := <-done
	if err != nil {
		return nil, nil, archiveError(path, err)
	}
	if serr != nil {
		return nil, nil, fmt.Errorf("%s: reading state.bin: %w", path, serr)
	}
	return a, stats, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// countEntries decodes the sections whose format it knows, as far as it
// can: entries is -1 (and detail says why) for an unknown one. The formats
// are documented in node/sessions.go, node/clustermeta.go and
// kv/snapshot.go; the section was already verified.
func countEntries(t node.Type, br *bufio.Reader) (int64, string) {
	switch t {
	case 0:
		return countNode(br)
	case node.TypeKV:
		return countKV(br)
	}
	return -1, "format not known to this tool"
}

type byteReader interface {
	io.Reader
	io.ByteReader
}

func skipBytes(br byteReader) error {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return err
	}
	_, err = io.CopyN(io.Discard, br, int64(n))
	return err
}

func countNode(br *bufio.Reader) (int64, string) {
	sessions, err := binary.ReadUvarint(br)
	if err != nil {
		return -1, "undecodable"
	}
	var results uint64
	for range sessions {
		var id [8]byte
		if _, err := io.ReadFull(br, id[:]); err != nil {
			return -1, "undecodable"
		}
		var n uint64
		for range 3 {
			if n, err = binary.ReadUvarint(br); err != nil {
				return -1, "undecodable"
			}
		}
		results += n
		for range n {
			if _, err := binary.ReadUvarint(br); err != nil {
				return -1, "undecodable"
			}
			if _, err := br.ReadByte(); err != nil {
				return -1, "undecodable"
			}
			if err := skipBytes(br); err != nil {
				return -1, "undecodable"
			}
		}
	}
	var cid [8]byte
	if _, err := io.ReadFull(br, cid[:]); err != nil {
		return int64(sessions), fmt.Sprintf("%d client sessions, %d remembered results", sessions, results)
	}
	members, err := binary.ReadUvarint(br)
	if err != nil {
		return int64(sessions), fmt.Sprintf("%d client sessions, %d remembered results", sessions, results)
	}
	return int64(sessions), fmt.Sprintf("%d client sessions, %d remembered results, %d members' client addresses (not restored)", sessions, results, members)
}

// countKV reads kv's snapshot format v1: "ckv" 1, index, rev, compactRev,
// then 'b'/'l' version records and 'L' leases up to 'E'.
func countKV(br *bufio.Reader) (int64, string) {
	magic := make([]byte, 4)
	if _, err := io.ReadFull(br, magic); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, "empty store"
		}
		return -1, "undecodable"
	}
	if string(magic[:3]) != "ckv" || magic[3] != 1 {
		return -1, fmt.Sprintf("kv snapshot format %q not known to this tool", magic)
	}
	if _, err := binary.ReadUvarint(br); err != nil {
		return -1, "undecodable"
	}
	rev, err1 := binary.ReadVarint(br)
	compact, err2 := binary.ReadVarint(br)
	if err1 != nil || err2 != nil {
		return -1, "undecodable"
	}
	var versions, tombstones, leases int64
	for {
		tag, err := br.ReadByte()
		if err != nil {
			return -1, "undecodable"
		}
		switch tag {
		case 'b', 'l':
			if err := skipBytes(br); err != nil {
				return -1, "undecodable"
			}
			_, err1 := binary.ReadVarint(br)
			version, err2 := binary.ReadVarint(br)
			if err1 != nil || err2 != nil {
				return -1, "undecodable"
			}
			versions++
			if version == 0 {
				tombstones++
				continue
			}
			_, err1 = binary.ReadVarint(br)
			_, err2 = binary.ReadVarint(br)
			if err1 != nil || err2 != nil || skipBytes(br) != nil {
				return -1, "undecodable"
			}
		case 'L':
			for range 3 {
				if _, err := binary.ReadVarint(br); err != nil {
					return -1, "undecodable"
				}
			}
			leases++
		case 'E':
			return versions + leases, fmt.Sprintf("revision %d, compacted at %d, %d key versions (%d deletions), %d leases",
				rev, compact, versions, tombstones, leases)
		default:
			return -1, fmt.Sprintf("unknown kv record %q", tag)
		}
	}
}
