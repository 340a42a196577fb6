package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/concord-db/concord/node/wal"
	"github.com/hashicorp/raft"
)

// Result is the outcome of a command applied through the log.
type Result struct {
	Index uint64 // the command's log index
	Data  []byte // what the state machine's Apply returned
}

// Apply commits a command for the state machine of type t and returns what
// its Apply returned. It works on any node: a follower forwards the command
// to the leader. It waits at most LeaderTimeout for a leader and retries up
// to CommitRetries times across leader changes; a retried command is never
// applied twice. If the command may have been committed but no answer came
// back, the error matches ErrUnknownOutcome.
func (n *Node) Apply(ctx context.Context, t Type, payload []byte) (Result, error) {
	if t == typeBatch {
		return Result{}, fmt.Errorf("%w %d: reserved for batched entries", ErrUnknownType, t)
	}
	if err := n.checkDiskSpace(); err != nil {
		return Result{}, err
	}
	seq := n.props.start()
	defer n.props.finish(seq)
	e := envelope{typ: t, proposer: n.proposer, seq: seq, watermark: n.props.low(), payload: payload}
	entry := e.encode()

	var lastErr error
	maybeProposed := false
	for attempt := 0; attempt <= n.cfg.CommitRetries; attempt++ {
		leaderID, leaderAddr, err := n.waitLeader(ctx)
		if err != nil {
			lastErr = err
			break
		}
		var res Result
		if leaderID == n.cfg.ID {
			res, err = n.applyLocal(ctx, entry)
		} else {
			res, err = n.forwardApply(ctx, leaderID, leaderAddr, entry)
		}
		if err == nil {
			return res, nil
		}
		lastErr = err
		if errors.Is(err, ErrUnknownOutcome) {
			maybeProposed = true
		}
		if !retryable(err) || ctx.Err() != nil {
			break
		}
		n.logger.Debug("retrying command after leader change", "attempt", attempt+1, "err", err)
		n.awaitLeaderChange(ctx, leaderID)
	}
	if maybeProposed && !errors.Is(lastErr, ErrUnknownOutcome) {
		return Result{}, fmt.Errorf("%w: %v", ErrUnknownOutcome, lastErr)
	}
	return Result{}, lastErr
}

// retryable reports whether a failed attempt may be retried: the leader
// was gone, changed, or did not answer.
func retryable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrNoLeader) || errors.Is(err, ErrTimeout)
}

// awaitLeaderChange waits briefly for a leader other than prev, so a retry
// does not hammer a node that just stepped down.
func (n *Node) awaitLeaderChange(ctx context.Context, prev string) {
	n.leaderMu.Lock()
	changed := n.leaderChanged
	n.leaderMu.Unlock()
	if id, _, err := n.Leader(); err == nil && id != prev {
		return
	}
	t := time.NewTimer(n.cfg.HeartbeatTimeout)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
	case <-n.stopping:
	}
}

// checkProposable refuses an entry forwarded by a follower that is not one
// command's envelope.
func checkProposable(entry []byte) error {
	e, err := decodeEnvelope(entry)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnknownType, err)
	}
	if e.typ == typeBatch {
		return fmt.Errorf("%w %d: reserved for batched entries", ErrUnknownType, e.typ)
	}
	return nil
}

// applyLocal proposes entry on this node, which believes it leads.
func (n *Node) applyLocal(ctx context.Context, entry []byte) (Result, error) {
	p := newProposal(entry)
	n.proposals.submit(p)
	return p.wait(ctx, n.stopping)
}

// await waits for a raft future, giving up (with ErrUnknownOutcome, since
// the entry may still commit) when ctx ends first, and with ErrShutdown when
// the node stops: raft never answers the futures still queued when it shuts
// down, so without this a caller with no deadline would wait forever.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	return waitFuture(ctx, f, n.stopping)
}

func waitFuture(ctx context.Context, f raft.Future, stopping <-chan struct{}) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, ctx.Err())
	case <-stopping:
		return ErrShutdown
	}
}

// mapRaftError turns hashicorp/raft's errors into the node's.
func mapRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w (%v)", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case errors.Is(err, wal.ErrNoSpace):
		// The leader could not write the entry and stepped down; the bytes
		// may be in its file, so the entry may yet commit under it.
		return fmt.Errorf("%w: %w: %v", ErrUnknownOutcome, ErrDiskFull, err)
	}
	return err
}

// forwardApply sends entry to the leader and returns its result.
func (n *Node) forwardApply(ctx context.Context, leaderID, leaderAddr string, entry []byte) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	resp, err := n.forwards.apply(ctx, leaderAddr, entry)
	if err != nil {
		return Result{}, fmt.Errorf("%w: forwarding to leader %s: %v", ErrUnknownOutcome, leaderID, err)
	}
	if err := resp.err(); err != nil {
		return Result{Index: resp.index, Data: resp.data}, &RemoteError{Node: leaderID, Err: err}
	}
	return Result{Index: resp.index, Data: resp.data}, nil
}

// proposals numbers this process's commands and tracks the lowest one still
// in flight (the watermark carried in every envelope).
type proposals struct {
	mu       sync.Mutex
	next     uint64
	lowest   uint64
	finished map[uint64]bool
}

func (p *proposals) init() {
	p.next, p.lowest = 1, 1
	p.finished = map[uint64]bool{}
}

func (p *proposals) start() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.next
	p.next++
	return s
}

func (p *proposals) finish(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq != p.lowest {
		p.finished[seq] = true
		return
	}
	p.lowest++
	for p.finished[p.lowest] {
		delete(p.finished, p.lowest)
		p.lowest++
	}
}

func (p *proposals) low() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lowest
}
