package sqlstore

import (
	"fmt"
	"time"
)

// ApplyBatch runs all commands of one raft entry in one SQLite
// transaction, each under its own savepoint, so a batch costs one commit
// (node.BatchApplier). Results are per command, as from Apply.
func (s *Store) ApplyBatch(index uint64, cmds [][]byte) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.observeApply(time.Now())
	out := make([][]byte, len(cmds))
	fail := func(msg string) [][]byte {
		for i := range out {
			out[i] = encodeResult(applyResult{Err: msg})
		}
		return out
	}
	if s.closed {
		return fail(ErrClosed.Error())
	}
	if err := s.failedErr(); err != nil {
		return fail(err.Error())
	}
	if index != 0 && index <= s.applied {
		return fail(alreadyApplied(index))
	}
	defer s.endRun()
	since, attempt := time.Now(), 0
begin: // again after a statement rolled back everything (rollbackall.go), or after a full disk (nospace.go)
	if err := s.execCtl("BEGIN IMMEDIATE"); err != nil {
		if s.retryNoSpace(err, since, attempt) {
			attempt++
			goto begin
		}
		return fail(fmt.Sprintf("sqlstore: begin: %v", err))
	}
	ts := s.lastTS
	var err error
	for i, b := range cmds {
		c, derr := decodeCommand(b)
		if derr != nil {
			out[i] = encodeResult(applyResult{Err: derr.Error()})
			continue
		}
		cts := max(c.Timestamp, ts)
		if err = s.execCtl("SAVEPOINT command"); err != nil {
			break
		}
		var results []Result
		s.run.pos = i
		if results, err = s.runRequest(c, cts); err != nil {
			if s.startOver(err) {
				goto begin
			}
			break
		}
		if err = s.execCtl("RELEASE command"); err != nil {
			break
		}
		ts = cts
		out[i] = encodeResult(applyResult{Results: results})
	}
	if err == nil && s.noSpace {
		err = errNoSpaceRetry
	}
	if err == nil {
		err = s.setMetaInt("applied_index", int64(index))
	}
	if err == nil {
		err = s.setMetaInt("last_timestamp", ts)
	}
	if err == nil {
		err = s.execCtl("COMMIT")
	}
	if err != nil {
		s.execCtl("ROLLBACK")
		if s.retryNoSpace(err, since, attempt) {
			attempt++
			goto begin
		}
		s.failStop(err)
		return fail(fmt.Sprintf("sqlstore: apply batch at index %d: %v", index, err))
	}
	s.applied = index
	s.lastTS = ts
	return out
}
