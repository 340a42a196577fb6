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
// its first copy.
//
// A state machine that is a BatchApplier gets all of its new commands in
// the entry in one ApplyBatch call, at the end of the entry, whatever else
// lies between them: a durable state machine (sqlstore) records the entry's
// index with its effects and skips an index it has seen, so a second call
// at the same index would be refused as a replay. State machines are
// independent of each other, so applying each one's commands together (in
// their order) gives every one of them the state and results that
// command-by-command application would.
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
			// A retry of a command still waiting in this entry's runs
			// gets the first copy's result when the runs are applied,
			// unless the proposer's watermark has passed it since.
			if errors.Is(res.err, ErrDuplicate) || !runs.alias(i, &e) {
				out[i] = applyResult(res)
			}
			continue
		}
		if ba, ok := f.machines[e.typ].(BatchApplier); ok && e.typ != typeNode && e.typ != typeBatch {
			runs.add(i, e, ba)
			// Recorded now, so the rest of the entry sees the command as
			// applied (and its watermark); the result is filled in by flush.
			f.sessions.record(&e, l.Index, sessionResult{})
			continue
		}
		r := f.applyEnvelope(&e, l.Index)
		f.sessions.record(&e, l.Index, r)
		out[i] = applyResult(r)
	}
	runs.flush()
	return out
}

// entryRuns holds one batchRun per BatchApplier with new commands in the
// entry, in the order their first command appeared.
type entryRuns struct {
	f     *fsm
	index uint64
	out   []applyResult
	runs  []*batchRun
}

func (er *entryRuns) add(pos int, e envelope, sm BatchApplier) {
	for _, r := range er.runs {
		if r.typ == e.typ {
			r.add(pos, e)
			return
		}
	}
	r := &batchRun{sm: sm, typ: e.typ}
	r.add(pos, e)
	er.runs = append(er.runs, r)
}

// alias makes position pos take the result of the pending command with
// e's proposer and seq, and reports whether there was one.
func (er *entryRuns) alias(pos int, e *envelope) bool {
	for _, r := range er.runs {
		for j := range r.envs {
			if r.envs[j].proposer == e.proposer && r.envs[j].seq == e.seq {
				r.aliases = append(r.aliases, runAlias{pos: pos, of: j})
				return true
			}
		}
	}
	return false
}

// flush applies every run, one ApplyBatch call per state machine, and
// records the results.
func (er *entryRuns) flush() {
	for _, r := range er.runs {
		r.apply(er.f, er.index, er.out)
	}
	er.runs = nil
}

// batchRun collects the new commands of one BatchApplier in an entry.
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
