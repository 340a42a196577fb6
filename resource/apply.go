package resource

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// hardMaxResourceBytes bounds the size cap a command may carry: apply
// checks a resource against the smaller of the two, so a proposer that
// skipped validation still cannot store more than this.
const hardMaxResourceBytes = 64 << 20

// Apply implements node.StateMachine: it applies one command and returns
// its encoded result.
func (s *Store) Apply(index uint64, cmd []byte) []byte {
	return s.ApplyBatch(index, [][]byte{cmd})[0]
}

// ApplyBatch implements node.BatchApplier: the commands of one log entry in
// order, each seeing the ones before it, published once.
// Each write that happens takes the next revision.
func (s *Store) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	out := make([][]byte, len(cmds))
	evs := make([]Event, 0, len(cmds))
	// The entry's writes change transient tables in place; the published
	// view keeps the frozen ones it has.
	s.db = s.db.transient()
	for i, b := range cmds {
		r, ev := s.applyOne(b)
		s.metrics.count(r.err)
		if ev != nil {
			evs = append(evs, *ev)
		}
		out[i] = encodeResult(r)
	}
	s.db.freeze()
	s.index = max(s.index, index)
	s.publish(evs)
	return out
}

func (s *Store) applyOne(b []byte) (result, *Event) {
	c, err := decodeCommand(b, s.intern)
	if err != nil {
		return result{err: err}, nil
	}
	switch c.op {
	case opWrite, opUpsert:
		return s.applyWrite(c)
	case opStatus:
		return s.applyStatus(c)
	default:
		return s.applyDelete(c)
	}
}

// applyWrite is WriteCAS (opWrite) or Write (opUpsert). On create the
// version must be empty and the resource takes the given uid or else the
// proposer's candidate. On update, for WriteCAS the version and the uid
// must be the stored ones; for Write an empty uid names the stored one
// (another is ErrWrongUid, checked first) and an empty version the stored
// one (an unconditional write). The status is the stored one (WriteStatus
// alone changes it); the generation is the proposer's when data, metadata,
// owner or group version changed, else the stored one.
func (s *Store) applyWrite(c *command) (result, *Event) {
	in := c.res
	if err := ValidateResource(in, int(min(c.maxBytes, hardMaxResourceBytes))); err != nil {
		return result{err: err}, nil
	}
	if !isULID(c.generation) || (c.uid == "" && in.Id.Uid == "") {
		return result{err: fmt.Errorf("%w: write without a generation or candidate uid", errMalformed)}, nil
	}
	key := idKey(in.Id)
	existing := s.db.lookup(key)
	out := &pbresource.Resource{
		Id:    &pbresource.ID{Uid: in.Id.Uid, Name: in.Id.Name, Type: in.Id.Type, Tenancy: in.Id.Tenancy},
		Owner: in.Owner, Metadata: in.Metadata, Data: in.Data,
	}
	if existing != nil && c.op == opUpsert {
		if in.Id.Uid != "" && in.Id.Uid != existing.Id.Uid {
			return result{err: ErrWrongUid}, nil
		}
		out.Id.Uid = existing.Id.Uid
		if in.Version == "" {
			in.Version = existing.Version
		}
	}
	switch {
	case existing == nil && in.Version != "":
		return result{err: ErrCASFailure}, nil
	case existing == nil:
		if out.Id.Uid == "" {
			out.Id.Uid = c.uid
		}
		out.Generation = c.generation
	case in.Version != existing.Version:
		return result{err: ErrCASFailure}, nil
	case out.Id.Uid != existing.Id.Uid:
		return result{err: ErrWrongUid}, nil
	default:
		out.Status = existing.Status
		out.Generation = existing.Generation
		if contentChanged(existing, out) {
			out.Generation = c.generation
		}
	}
	r, ev := s.put(key, existing, out)
	r.written = true
	return r, ev
}

// contentChanged reports whether a write changes what the generation
// stands for: data, metadata, owner or the stored group version.
func contentChanged(old, nu *pbresource.Resource) bool {
	return old.Id.Type.GroupVersion != nu.Id.Type.GroupVersion ||
		!anyEqual(old.Data, nu.Data) || !proto.Equal(old.Owner, nu.Owner) ||
		!metadataEqual(old.Metadata, nu.Metadata)
}

// anyEqual is proto.Equal for Any values, without reflection when neither
// carries unknown fields (the usual case): the type URL and the bytes.
func anyEqual(a, b *anypb.Any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if len(a.ProtoReflect().GetUnknown()) > 0 || len(b.ProtoReflect().GetUnknown()) > 0 {
		return proto.Equal(a, b)
	}
	return a.TypeUrl == b.TypeUrl && bytes.Equal(a.Value, b.Value)
}

func metadataEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// applyStatus is WriteStatus: one status key set on the stored resource,
// which keeps its generation.
func (s *Store) applyStatus(c *command) (result, *Event) {
	if err := validateStatus(c.id, c.key, c.status); err != nil {
		return result{err: err}, nil
	}
	key := idKey(c.id)
	existing := s.db.lookup(key)
	switch {
	case existing == nil:
		return result{err: ErrNotFound}, nil
	case c.id.Uid != existing.Id.Uid:
		return result{err: ErrWrongUid}, nil
	case c.id.Type.GroupVersion != existing.Id.Type.GroupVersion:
		return result{err: GroupVersionMismatchError{RequestedType: c.id.Type, Stored: existing}}, nil
	case c.version != "" && c.version != existing.Version:
		return result{err: ErrCASFailure}, nil
	}
	out := proto.Clone(existing).(*pbresource.Resource)
	if out.Status == nil {
		out.Status = map[string]*pbresource.Status{}
	}
	out.Status[c.key] = c.status
	if n := proto.Size(out); n > hardMaxResourceBytes {
		return result{err: ValidationError{Field: "status", Reason: fmt.Sprintf("the resource would be %d bytes encoded, over %d", n, hardMaxResourceBytes)}}, nil
	}
	return s.put(key, existing, out)
}

// applyDelete is DeleteCAS: deleting a missing resource, or one whose uid
// is not the given one (another lifetime of the name), succeeds and does
// nothing; an empty uid matches any lifetime (the version still has to
// match, and versions are never reused).
func (s *Store) applyDelete(c *command) (result, *Event) {
	if err := ValidateID(c.id); err != nil {
		return result{err: err}, nil
	}
	existing := s.db.get(c.id)
	switch {
	case existing == nil, c.id.Uid != "" && c.id.Uid != existing.Id.Uid:
		return result{}, nil
	case c.version != existing.Version:
		return result{err: ErrCASFailure}, nil
	}
	s.db = s.db.remove(existing)
	s.rev++
	s.countsChanged = true
	s.counts[typeName(existing.Id.Type)]--
	if s.counts[typeName(existing.Id.Type)] <= 0 {
		delete(s.counts, typeName(existing.Id.Type))
	}
	return result{rev: s.rev}, &Event{Kind: Delete, Resource: existing, Version: s.rev}
}

// put stores out (replacing existing, if any) at the next revision; key
// is its idKey.
func (s *Store) put(key string, existing, out *pbresource.Resource) (result, *Event) {
	s.rev++
	out.Version = strconv.FormatUint(s.rev, 10)
	s.db = s.db.store(key, existing, out)
	if existing == nil {
		s.counts[typeName(out.Id.Type)]++
		s.countsChanged = true
	}
	return result{res: out, rev: s.rev}, &Event{Kind: Upsert, Resource: out, Version: s.rev}
}
