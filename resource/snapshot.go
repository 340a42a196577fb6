package resource

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/node"
)

// The snapshot section of the store is a sequence of records:
//
//	snapVersion (1 byte) | revision (uvarint) | index (uvarint)
//	then records: tag (1 byte) | fields
//	  tagResource: Resource (uvarint length + protobuf)
//	  tagEvent:    version (uvarint) | kind (1 byte) | Resource
//	  tagEnd
//
// Resources come in "id" key order, events oldest first. The owner index is
// not written: it is a function of the resources and is rebuilt on restore.
// The watch history is written, so a member restarted or caught up from a
// snapshot still resumes watches from any retained version.
const (
	snapVersion = 1

	tagResource = 1
	tagEvent    = 2
	tagEnd      = 3

	// maxRecordBytes bounds one record, so a corrupt length cannot make
	// restore allocate without limit.
	maxRecordBytes = hardMaxResourceBytes + 1<<20
)

// ErrBadSnapshot is wrapped by every error of Restore and ValidateSnapshot
// about the content of a section.
var ErrBadSnapshot = fmt.Errorf("resource: bad snapshot section: %w", node.ErrBadSnapshot)

// Snapshot implements node.StateMachine: an O(1) point-in-time view.
func (s *Store) Snapshot() (node.Snapshot, error) {
	return &snapshot{v: s.view.Load()}, nil
}

type snapshot struct{ v *view }

func (*snapshot) Release() {}

// Persist writes the section, streaming the resources from the view.
func (sn *snapshot) Persist(w io.Writer) error {
	bw := bufio.NewWriter(w)
	b := []byte{snapVersion}
	b = binary.AppendUvarint(b, sn.v.rev)
	b = binary.AppendUvarint(b, sn.v.index)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	var err error
	scan(sn.v.db.byID, "", func(r *pbresource.Resource) bool {
		_, err = bw.Write(appendProto([]byte{tagResource}, r))
		return err == nil
	})
	if err != nil {
		return err
	}
	for _, ev := range sn.v.retained() {
		b := binary.AppendUvarint([]byte{tagEvent}, ev.Version)
		b = append(b, byte(ev.Kind))
		if _, err := bw.Write(appendProto(b, ev.Resource)); err != nil {
			return err
		}
	}
	if err := bw.WriteByte(tagEnd); err != nil {
		return err
	}
	return bw.Flush()
}

// restoredState is a section read whole.
type restoredState struct {
	db     tables
	rev    uint64
	index  uint64
	hist   []Event
	counts map[string]int
}

// readSection reads and checks a section; an empty section is an empty
// store. It never changes the running store.
func readSection(r io.Reader) (*restoredState, error) {
	// The tables are built in place (transient) and frozen before they
	// are returned.
	st := &restoredState{db: newTables().transient(), counts: map[string]int{}}
	br := bufio.NewReader(r)
	v, err := br.ReadByte()
	if err == io.EOF {
		st.db.freeze()
		return st, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
	}
	if err != nil {
		return nil, err
	}
	if v != snapVersion {
		return nil, bad("version %d, want %d", v, snapVersion)
	}
	if st.rev, err = binary.ReadUvarint(br); err != nil {
		return nil, bad("revision: %v", err)
	}
	if st.index, err = binary.ReadUvarint(br); err != nil {
		return nil, bad("index: %v", err)
	}
	for {
		tag, err := br.ReadByte()
		if err != nil {
			return nil, bad("truncated before its end: %v", err)
		}
		switch tag {
		case tagResource:
			res, err := readResource(br)
			if err != nil {
				return nil, bad("resource: %v", err)
			}
			if st.db.get(res.Id) != nil {
				return nil, bad("resource %s/%s twice", typeName(res.Id.Type), res.Id.Name)
			}
			if n, err := strconv.ParseUint(res.Version, 10, 64); err != nil || n == 0 || n > st.rev {
				return nil, bad("resource %s/%s has version %q, store revision %d", typeName(res.Id.Type), res.Id.Name, res.Version, st.rev)
			}
			st.db = st.db.set(nil, res)
			st.counts[typeName(res.Id.Type)]++
		case tagEvent:
			ev, err := readEvent(br)
			if err != nil {
				return nil, bad("event: %v", err)
			}
			if n := len(st.hist); n > 0 && ev.Version != st.hist[n-1].Version+1 {
				return nil, bad("event version %d after %d", ev.Version, st.hist[n-1].Version)
			}
			if ev.Version == 0 || ev.Version > st.rev {
				return nil, bad("event version %d, store revision %d", ev.Version, st.rev)
			}
			st.hist = append(st.hist, ev)
		case tagEnd:
			if n := len(st.hist); n > 0 && st.hist[n-1].Version != st.rev {
				return nil, bad("history ends at %d, store revision %d", st.hist[n-1].Version, st.rev)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				return nil, bad("data after its end")
			}
			st.db.freeze()
			return st, nil
		default:
			return nil, bad("unknown record tag %d", tag)
		}
	}
}

func readBytes(br *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, err
	}
	if n > maxRecordBytes {
		return nil, fmt.Errorf("record of %d bytes", n)
	}
	// Read as the bytes come, so a corrupt length costs no more memory
	// than the section holds.
	b, err := io.ReadAll(io.LimitReader(br, int64(n)))
	if err != nil {
		return nil, err
	}
	if uint64(len(b)) != n {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}

// readResource reads a stored resource and checks it as apply would have.
func readResource(br *bufio.Reader) (*pbresource.Resource, error) {
	b, err := readBytes(br)
	if err != nil {
		return nil, err
	}
	res := &pbresource.Resource{}
	if err := proto.Unmarshal(b, res); err != nil {
		return nil, err
	}
	if err := ValidateResource(res, hardMaxResourceBytes); err != nil {
		return nil, err
	}
	if res.Id.Uid == "" || res.Version == "" || res.Generation == "" {
		return nil, errors.New("stored resource without uid, version or generation")
	}
	return res, nil
}

func readEvent(br *bufio.Reader) (Event, error) {
	var ev Event
	v, err := binary.ReadUvarint(br)
	if err != nil {
		return ev, err
	}
	k, err := br.ReadByte()
	if err != nil {
		return ev, err
	}
	if EventKind(k) != Upsert && EventKind(k) != Delete {
		return ev, fmt.Errorf("event kind %d", k)
	}
	res, err := readResource(br)
	if err != nil {
		return ev, err
	}
	return Event{Kind: EventKind(k), Resource: res, Version: v}, nil
}

// ValidateSnapshot implements node.SnapshotValidator: it reads a section as
// Restore would, changing nothing.
func (s *Store) ValidateSnapshot(r io.Reader) error {
	_, err := readSection(r)
	return err
}

// Restore implements node.StateMachine: it replaces the state with a
// section written by Persist (an empty section gives an empty store). On
// error nothing changes. Watches survive a restore that moves the store
// forward with its history (see hub.restored).
func (s *Store) Restore(r io.Reader) error { return s.restore(r, false) }

// RestoreRollback implements node.RollbackRestorer: Restore of a snapshot
// that replaces the agreed state, which ends every watch with a
// HistoryCompactedError (RolledBack set): the versions they saw belong to
// another history.
func (s *Store) RestoreRollback(r io.Reader) error { return s.restore(r, true) }

func (s *Store) restore(r io.Reader, rollback bool) error {
	st, err := readSection(r)
	if err != nil {
		return err
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.db, s.rev, s.index, s.hist, s.counts = st.db, st.rev, st.index, st.hist, st.counts
	if over := len(s.hist) - s.cfg.HistoryEvents; over > 0 {
		s.hist = s.hist[over:]
	}
	s.publishStatus()
	v := &view{db: s.db, rev: s.rev, index: s.index, hist: s.hist, resumable: s.cfg.HistoryEvents, next: make(chan struct{})}
	s.hub.restored(s.view.Load(), v, rollback)
	s.cfg.Logger.Info("resource store restored", "revision", s.rev, "resources", s.statusCache.Resources, "history", len(s.hist), "rollback", rollback)
	return nil
}
