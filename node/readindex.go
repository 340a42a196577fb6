package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ReadBarrier returns once this node's state machines reflect every write
// acknowledged before the call: a linearizable read may then be served from
// local state. It implements raft's ReadIndex: the leader confirms it still
// leads (one round of heartbeats to a quorum) and hands out its commit
// index, and the caller waits until it has applied that index. Concurrent
// barriers on a node share one leadership check.
func (n *Node) ReadBarrier(ctx context.Context) error {
	idx, err := n.ReadIndex(ctx)
	if err != nil {
		return err
	}
	return n.fsm.applied.wait(ctx, idx)
}

// ReadIndex returns an index that covers every write acknowledged before
// the call, retrying across leader changes within LeaderTimeout.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	var lastErr error
	for attempt := 0; attempt <= n.cfg.CommitRetries; attempt++ {
		leaderID, _, err := n.waitLeader(ctx)
		if err != nil {
			return 0, err
		}
		idx, err := n.reads.get(ctx)
		if err == nil {
			return idx, nil
		}
		lastErr = err
		if !retryable(err) || ctx.Err() != nil {
			break
		}
		n.awaitLeaderChange(ctx, leaderID)
	}
	return 0, lastErr
}

// readIndexer batches read-index requests: a request joins the next round
// that starts after it arrived, never one already under way (whose commit
// index may predate the request).
type readIndexer struct {
	n       *Node
	mu      sync.Mutex
	waiting []chan readIndexResult
	running bool
}

type readIndexResult struct {
	index uint64
	err   error
}

func newReadIndexer(n *Node) *readIndexer { return &readIndexer{n: n} }

func (r *readIndexer) get(ctx context.Context) (uint64, error) {
	ch := make(chan readIndexResult, 1)
	r.mu.Lock()
	r.waiting = append(r.waiting, ch)
	if !r.running {
		r.running = true
		go r.loop()
	}
	r.mu.Unlock()
	select {
	case res := <-ch:
		return res.index, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (r *readIndexer) loop() {
	for {
		r.mu.Lock()
		batch := r.waiting
		r.waiting = nil
		if len(batch) == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		idx, err := r.round()
		for _, ch := range batch {
			ch <- readIndexResult{idx, err}
		}
	}
}

// round runs one leadership check, locally on the leader or by asking it.
func (r *readIndexer) round() (uint64, error) {
	n := r.n
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	if n.IsLeader() {
		return n.leaderReadIndex(ctx)
	}
	leaderID, leaderAddr, err := n.Leader()
	if err != nil {
		return 0, err
	}
	if leaderID == n.cfg.ID { // stepped down between the two checks
		return 0, ErrNotLeader
	}
	var resp readIndexResponse
	if err := n.peers.call(ctx, leaderAddr, "ReadIndex", &readIndexRequest{}, &resp); err != nil {
		return 0, fmt.Errorf("%w: read index from leader %s: %v", ErrTimeout, leaderID, err)
	}
	if err := resp.err(); err != nil {
		return 0, &RemoteError{Node: leaderID, Err: err}
	}
	return resp.index, nil
}

// leaderReadIndex is ReadIndex on the leader: wait until this term's
// leadership barrier is done (so the commit index covers earlier terms),
// read the commit index, then confirm leadership with a quorum.
func (n *Node) leaderReadIndex(ctx context.Context) (uint64, error) {
	lt := n.leadership.Load()
	if lt == nil {
		return 0, ErrNotLeader
	}
	select {
	case <-lt.ready:
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: leadership not established yet", ErrTimeout)
	case <-n.stopping:
		return 0, ErrShutdown
	}
	idx := n.raft.CommitIndex()
	if err := n.await(ctx, n.raft.VerifyLeader()); err != nil {
		if errors.Is(err, ErrUnknownOutcome) {
			return 0, fmt.Errorf("%w: leadership check: %v", ErrTimeout, err)
		}
		return 0, mapRaftError(err)
	}
	// A leadership lost and regained in between would make idx stale.
	if n.leadership.Load() != lt || n.raft.CurrentTerm() != lt.term {
		return 0, ErrNotLeader
	}
	return idx, nil
}

// handleReadIndex serves ReadIndex for a follower.
func (n *Node) handleReadIndex(ctx context.Context, _ *readIndexRequest) *readIndexResponse {
	if !n.IsLeader() {
		return &readIndexResponse{wireErr: toWireErr(ErrNotLeader)}
	}
	idx, err := n.reads.get(ctx)
	return &readIndexResponse{wireErr: toWireErr(err), index: idx}
}
