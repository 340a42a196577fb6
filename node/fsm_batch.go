package node

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// applyBatchEntry applies the commands of a typeBatch entry in order and
// returns one applyResult per command (or one applyResult for the whole
// entry if it cannot be decoded). The outcome is the same as applying each
// command as its own entry at the same index: retried commands are
// recognised one by one, including a retry that landed in the same entry as
// its first copy, which takes the first copy's result.
//
// Consecutive new commands of a BatchApplier go to it in one ApplyBatch
// call. A DurableStateMachine is the exception: it gets all of its new
// commands in the entry in one call, after the rest of the entry. It records
// the entry's index with its effects and takes an index it has seen for a
// replay, so a second call at the same index would lose the commands in it.
// Deferring its commands past the entry's other commands changes nothing a
// client can see except through the auth store, and there only towards
// caution: a write stamped before an auth change in the same entry is
// refused as stale, as if it had been proposed after it.
func (f *fsm) applyBatchEntry(l *raft.Log) interface{} {
	envs, err := decodeBatch(l.Data)
	if err != nil {
		f.logger.Error("skipping undecodable log entry", "index", l.Index, "err", err)
		return applyResult{err: fmt.Errorf("%w: %v", ErrUnknownType, err)}
	}
	out := make([]applyResult, len(envs))
	runs := entryRuns{f: f, index: l.Index, out: out}
	for i, b := range envs {
		e, err := decodeEnvelope(b)
		if err != nil {
			f.logger.Error("skipping undecodable command in batch", "index", l.Index, "position", i, "err", err)
			out[i] = applyResult{err: fmt.Errorf("%w: %v", ErrUnknownType, err)}
			continue
		}
		if res, seen := f.sessions.lookup(e.proposer, e.seq); seen {
			// A retry of a command still waiting in a run gets the first
			// copy's result when the run is applied, unless the
			// proposer's watermark has passed it since.
			if errors.Is(res.err, ErrDuplicate) || !runs.alias(i, &e) {
				out[i] = applyResult(res)
			}
			continue
		}
		if ba, ok := f.machines[e.typ].(BatchApplier); ok && e.typ != typeNode && e.typ != typeBatch {
			runs.add(i, e, ba)
			// Recorded now, so the rest of the entry sees the command as
			// applied (and its watermark); the result is filled in when
			// the run is applied.
			f.sessions.record(&e, l.Index, sessionResult{})
			continue
		}
		runs.flushCurrent()
		r := f.applyEnvelope(&e, l.Index)
		f.sessions.record(&e, l.Index, r)
		out[i] = applyResult(r)
	}
	runs.flushCurrent()
	runs.flushDeferred()
	return out
}

// entryRuns holds the run of consecutive commands being gathered and one
// deferred run per DurableStateMachine with commands in the entry.
type entryRuns struct {
	f        *fsm
	index    uint64
	out      []applyResult
	current  *batchRun
	deferred []*batchRun // in the order their first command appeared
}

func (er *entryRuns) add(pos int, e envelope, sm BatchApplier) {
	if _, durable := sm.(DurableStateMachine); durable {
		for _, r := range er.deferred {
			if r.typ == e.typ {
				r.add(pos, e)
				return
			}
		}
		r := &batchRun{sm: sm, typ: e.typ}
		r.add(pos, e)
		er.deferred = append(er.deferred, r)
		return
	}
	if er.current != nil && er.current.typ != e.typ {
		er.flushCurrent()
	}
	if er.current == nil {
		er.current = &batchRun{sm: sm, typ: e.typ}
	}
	er.current.add(pos, e)
}

// alias makes position pos take the result of the pending command with
// e's proposer and seq, and reports whether there was one.
func (er *entryRuns) alias(pos int, e *envelope) bool {
	if er.current != nil && er.current.alias(pos, e) {
		return true
	}
	for _, r := range er.deferred {
		if r.alias(pos, e) {
			return true
		}
	}
	return false
}

// flushCurrent applies the run being gathered, if any.
func (er *entryRuns) flushCurrent() {
	if er.current != nil {
		er.current.apply(er.f, er.index, er.out)
		er.current = nil
	}
}

// flushDeferred applies the durable state machines' runs, one call each.
func (er *entryRuns) flushDeferred() {
	for _, r := range er.deferred {
		r.apply(er.f, er.index, er.out)
	}
	er.deferred = nil
}

// batchRun collects new commands of one BatchApplier in an entry.
type batchRun struct {
	sm      BatchApplier
	typ     Type
	pos     []int // positions in the entry
	envs    []envelope
	cmds    [][]byte
	aliases []runAlias
}

// runAlias is a retry at position pos of the run's command of.
type runAlias struct{ pos, of int }

// alias makes position pos take the result of the run's command with e's
// proposer and seq, if the run has it.
func (r *batchRun) alias(pos int, e *envelope) bool {
	for j := range r.envs {
		if r.envs[j].proposer == e.proposer && r.envs[j].seq == e.seq {
			r.aliases = append(r.aliases, runAlias{pos: pos, of: j})
			return true
		}
	}
	return false
}

func (r *batchRun) add(pos int, e envelope) {
	r.pos = append(r.pos, pos)
	r.envs = append(r.envs, e)
	r.cmds = append(r.cmds, e.payload)
}

// apply runs the commands, fills in their session results and out.
func (r *batchRun) apply(f *fsm, index uint64, out []applyResult) {
	results := r.sm.ApplyBatch(index, r.cmds)
	if len(results) != len(r.cmds) {
		f.logger.Error("state machine returned the wrong number of batch results", "type", r.typ, "index", index, "commands", len(r.cmds), "results", len(results))
	}
	for i := range r.envs {
		var res sessionResult
		if i < len(results) {
			res.data = results[i]
		} else {
			res.err = fmt.Errorf("state machine %d returned no result for command %d of entry %d", r.typ, i, index)
		}
		f.sessions.fill(r.envs[i].proposer, r.envs[i].seq, res)
		out[r.pos[i]] = applyResult(res)
	}
	for _, a := range r.aliases {
		out[a.pos] = out[r.pos[a.of]]
	}
}
