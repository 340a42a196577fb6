package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// fsm is the one raft.FSM of a node. It routes each committed entry to the
// state machine named by its envelope, applies a retried command only once,
// and snapshots every state machine into one state.bin stream.
type fsm struct {
	logger    *slog.Logger
	applied   appliedIndex
	metrics   *metrics
	slowApply time.Duration // an entry's apply past this is counted and logged

	mu       sync.RWMutex // guards machines against Register during apply
	machines map[Type]StateMachine

	// Owned by the apply goroutine (raft's FSM goroutine).
	sessions *sessions
	meta     *clusterMeta
	lastTerm uint64
	slow     slowApplyLog

	metaView atomic.Pointer[clusterMeta] // read-only copy of meta for other goroutines
}

// applyResult is what raft hands back to a local proposer.
type applyResult struct {
	data []byte
	err  error
}

// newFSM returns an fsm with metrics of its own and the default SlowApply;
// New sets the node's.
func newFSM(logger *slog.Logger) *fsm {
	return &fsm{logger: logger, metrics: newMetrics(), slowApply: DefaultSlowApply, machines: map[Type]StateMachine{},
		sessions: newSessions(), meta: newClusterMeta()}
}

func (f *fsm) register(t Type, sm StateMachine) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t == typeNode || t == typeBatch {
		return fmt.Errorf("state machine type %d is reserved for the node", t)
	}
	if _, dup := f.machines[t]; dup {
		return fmt.Errorf("state machine type %d is already registered", t)
	}
	if _, durable := sm.(DurableStateMachine); durable {
		if _, batch := sm.(BatchApplier); !batch {
			// Apply may see one index several times (commands proposed
			// together share an entry), which a durable state machine
			// cannot tell from a replay; ApplyBatch sees each entry once.
			return fmt.Errorf("state machine type %d is durable but not a BatchApplier", t)
		}
	}
	f.machines[t] = sm
	return nil
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) interface{} { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch implements raft.BatchingFSM.
func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]interface{}, len(logs))
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			start := time.Now()
			if isBatch(l.Data) {
				out[i] = f.applyBatchEntry(l)
			} else {
				out[i] = f.applyCommand(l)
			}
			f.observeApply(l, time.Since(start))
		}
		f.lastTerm = l.Term
	}
	if len(logs) > 0 {
		f.applied.set(logs[len(logs)-1].Index)
	}
	return out
}

func (f *fsm) applyCommand(l *raft.Log) applyResult {
	e, err := decodeEnvelope(l.Data)
	if err != nil {
		f.logger.Error("skipping undecodable log entry", "index", l.Index, "err", err)
		return applyResult{err: fmt.Errorf("%w: %v", ErrUnknownType, err)}
	}
	if res, seen := f.sessions.lookup(e.proposer, e.seq); seen {
		return applyResult(res)
	}
	res := f.applyEnvelope(&e, l.Index)
	f.sessions.record(&e, l.Index, res)
	return applyResult(res)
}

// applyEnvelope runs one new command on its state machine.
func (f *fsm) applyEnvelope(e *envelope, index uint64) sessionResult {
	var res sessionResult
	switch sm := f.machines[e.typ]; {
	case e.typ == typeNode:
		res.err = f.meta.apply(e.payload)
		f.metaView.Store(f.meta.clone())
	case e.typ == typeBatch || sm == nil:
		res.err = fmt.Errorf("%w %d at index %d", ErrUnknownType, e.typ, index)
	default:
		res.data = sm.Apply(index, e.payload)
	}
	return res
}

// Snapshot implements raft.FSM. It forks every state machine; the forks are
// written out later by Persist, concurrently with apply.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	index := f.applied.get()
	// A durable state machine records that it is current at the
	// snapshot's index, so a restart after this snapshot skips its restore.
	if err := f.markDurable(index, nil); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s := &fsmSnapshot{
		start:    time.Now(),
		metrics:  f.metrics,
		header:   SnapshotHeader{Version: snapshotVersion, Index: index, Term: f.lastTerm},
		sessions: f.sessions.clone(),
		meta:     f.meta.clone(),
	}
	for _, t := range sortedTypes(f.machines) {
		snap, err := f.machines[t].Snapshot()
		if err != nil {
			s.Release()
			return nil, fmt.Errorf("snapshot of state machine %d: %w", t, err)
		}
		s.parts = append(s.parts, snapPart{typ: t, snap: snap})
	}
	return s, nil
}

// Restore implements raft.FSM: a snapshot installed from the leader or a
// Rollback, never the start (see restoreAtStart). Every state machine is
// replaced, durable ones too, which then record the snapshot's index. rc is
// the reader opened by our snapshot store, which tells the index raft
// restored to; a stream from elsewhere falls back to the index in its
// header.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.mu.RLock()
	defer f.mu.RUnlock()
	start := time.Now()
	cr := &countingReader{r: rc}
	br := bufio.NewReaderSize(cr, chunkSize)
	h, err := ReadSnapshotHeader(br)
	if err != nil {
		return err
	}
	restored := map[Type]bool{}
	rollbacksBefore := f.meta.rollbacks
	err = forEachSection(br, func(t Type, r io.Reader) error {
		restored[t] = true
		if t == typeNode {
			return f.restoreNode(r)
		}
		sm := f.machines[t]
		if sm == nil {
			return fmt.Errorf("%w %d in snapshot (is this binary too old?)", ErrUnknownType, t)
		}
		// The node's section comes first, so its rollback count is known.
		if rr, ok := sm.(RollbackRestorer); ok && f.meta.rollbacks > rollbacksBefore {
			return rr.RestoreRollback(r)
		}
		return sm.Restore(r)
	})
	if err != nil {
		return err
	}
	for _, t := range sortedTypes(f.machines) {
		if !restored[t] {
			if err := f.machines[t].Restore(eofReader{}); err != nil {
				return fmt.Errorf("reset of state machine %d: %w", t, err)
			}
		}
	}
	index, term := h.Index, h.Term
	if m, ok := rc.(*metaReader); ok {
		index, term = m.meta.Index, m.meta.Term
	}
	if err := f.markDurable(index, nil); err != nil {
		return err
	}
	f.lastTerm = term
	f.applied.set(index)
	f.metrics.snapshotDone(snapRestore, time.Since(start), cr.n)
	f.logger.Info("restored state from snapshot", "index", index, "term", term, "bytes", cr.n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (f *fsm) restoreNode(r io.Reader) error {
	br := bufio.NewReader(r)
	s, err := readSessions(br)
	if err != nil {
		return err
	}
	m, err := readClusterMeta(br)
	if err != nil {
		return err
	}
	f.sessions, f.meta = s, m
	f.metaView.Store(m.clone())
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type snapPart struct {
	typ  Type
	snap Snapshot
}

type fsmSnapshot struct {
	start    time.Time // when Snapshot forked the state machines
	metrics  *metrics
	header   SnapshotHeader
	sessions *sessions
	meta     *clusterMeta
	parts    []snapPart
}

// Persist implements raft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	cw := &countingWriter{w: sink}
	if err := s.writeStream(cw); err != nil {
		sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return err
	}
	s.metrics.snapshotDone(snapSave, time.Since(s.start), cw.n)
	return nil
}

// writeStream writes the whole state.bin stream to w.
func (s *fsmSnapshot) writeStream(w io.Writer) error {
	bw := bufio.NewWriterSize(w, chunkSize)
	if err := writeSnapshotHeader(bw, s.header); err != nil {
		return err
	}
	sw := newSectionWriter(bw, typeNode)
	if err := errors.Join(s.sessions.writeTo(sw), s.meta.writeTo(sw), sw.close()); err != nil {
		return fmt.Errorf("node section: %w", err)
	}
	for _, p := range s.parts {
		sw := newSectionWriter(bw, p.typ)
		if err := p.snap.Persist(sw); err != nil {
			return fmt.Errorf("section %d: %w", p.typ, err)
		}
		if err := sw.close(); err != nil {
			return fmt.Errorf("section %d: %w", p.typ, err)
		}
	}
	if err := bw.WriteByte(sectionEnd); err != nil {
		return err
	}
	return bw.Flush()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() {
	for _, p := range s.parts {
		p.snap.Release()
	}
}

func sortedTypes(m map[Type]StateMachine) []Type {
	var ts []Type
	for t := 0; t < 256; t++ {
		if _, ok := m[Type(t)]; ok {
			ts = append(ts, Type(t))
		}
	}
	return ts
}

// metaSnapshot returns the latest cluster metadata, safe to read from any
// goroutine (it is republished after every change).
func (f *fsm) metaSnapshot() *clusterMeta {
	if m := f.metaView.Load(); m != nil {
		return m
	}
	return newClusterMeta()
}
