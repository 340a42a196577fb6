package node

import (
	"fmt"

	"github.com/hashicorp/raft"
)

// applyBatchEntry applies the commands of a typeBatch entry in order and
// returns one applyResult per command (or one applyResult for the whole
// entry if it cannot be decoded). The outcome is the same as applying each
// command as its own entry at the same index: retried commands are
// recognised one by one, including a retry that landed in the same batch as
// its first copy. Consecutive new commands of a state machine that is a
// BatchApplier go to it in one call.
func (f *fsm) applyBatchEntry(l *raft.Log) interface{} {
	envs, err := decodeBatch(l.Data)
	if err != nil {
		f.logger.Error("skipping undecodable log entry", "index", l.Index, "err", err)
		return applyResult{err: fmt.Errorf("%w: %v", ErrUnknownType, err)}
	}
	out := make([]applyResult, len(envs))
	run := batchRun{f: f, index: l.Index, out: out}
	for i, b := range envs {
		e, err := decodeEnvelope(b)
		if err != nil {
			f.logger.Error("skipping undecodable command in batch", "index", l.Index, "position", i, "err", err)
			out[i] = applyResult{err: fmt.Errorf("%w: %v", ErrUnknownType, err)}
			continue
		}
		res, seen := f.sessions.lookup(e.proposer, e.seq)
		if seen && run.holds(&e) {
			// A retry of a command still pending in the run: apply the run
			// so the retry gets the first copy's result.
			run.flush()
			res, seen = f.sessions.lookup(e.proposer, e.seq)
		}
		if seen {
			out[i] = applyResult(res)
			continue
		}
		if ba, ok := f.machines[e.typ].(BatchApplier); ok && e.typ != typeNode && e.typ != typeBatch {
			run.add(i, e, ba)
			// Recorded now, so the rest of the batch sees the command as
			// applied (and its watermark); the result is filled in by flush.
			f.sessions.record(&e, l.Index, sessionResult{})
			continue
		}
		run.flush()
		r := f.applyEnvelope(&e, l.Index)
		f.sessions.record(&e, l.Index, r)
		out[i] = applyResult(r)
	}
	run.flush()
	return out
}

// batchRun collects consecutive new commands of one BatchApplier.
type batchRun struct {
	f     *fsm
	index uint64
	out   []applyResult

	sm   BatchApplier
	typ  Type
	pos  []int // positions in out
	envs []envelope
	cmds [][]byte
}

func (r *batchRun) add(pos int, e envelope, sm BatchApplier) {
	if len(r.envs) > 0 && r.typ != e.typ {
		r.flush()
	}
	r.sm, r.typ = sm, e.typ
	r.pos = append(r.pos, pos)
	r.envs = append(r.envs, e)
	r.cmds = append(r.cmds, e.payload)
}

// holds reports whether the run has a command with e's proposer and seq.
func (r *batchRun) holds(e *envelope) bool {
	for i := range r.envs {
		if r.envs[i].proposer == e.proposer && r.envs[i].seq == e.seq {
			return true
		}
	}
	return false
}

// flush applies the run's commands and records their results.
func (r *batchRun) flush() {
	if len(r.envs) == 0 {
		return
	}
	results := r.sm.ApplyBatch(r.index, r.cmds)
	if len(results) != len(r.cmds) {
		r.f.logger.Error("state machine returned the wrong number of batch results", "type", r.typ, "index", r.index, "commands", len(r.cmds), "results", len(results))
	}
	for i := range r.envs {
		var res sessionResult
		if i < len(results) {
			res.data = results[i]
		} else {
			res.err = fmt.Errorf("state machine %d returned no result for command %d of entry %d", r.typ, i, r.index)
		}
		r.f.sessions.fill(r.envs[i].proposer, r.envs[i].seq, res)
		r.out[r.pos[i]] = applyResult(res)
	}
	r.pos, r.envs, r.cmds = r.pos[:0], r.envs[:0], r.cmds[:0]
}
