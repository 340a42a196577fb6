package node

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// proposer puts the commands proposed on this node (by local callers and
// by followers' forward streams) into the raft log, several per entry.
//
// One goroutine hands entries to raft, and only maxEntriesInFlight of them
// at a time: the commands that arrive while an entry is being written,
// replicated and applied queue up here and go out together in the next one.
// This is group commit paced by the cluster itself, with no timer: an idle
// node proposes a lone command at once (as its plain envelope), and a busy
// one writes, sends and applies a few large entries instead of many small
// ones, which is most of the CPU a command costs.
type proposer struct {
	raft     *raft.Raft
	timeout  time.Duration // raft's enqueue timeout for one entry
	stopping <-chan struct{}
	metrics  *metrics // counts proposals pending, committed and failed

	mu    sync.Mutex
	queue []*proposal
	kick  chan struct{} // holds a token while the queue may be non-empty

	// inFlight holds a token per entry proposed and not yet answered.
	inFlight chan struct{}
}

// proposal is one command waiting for its outcome.
type proposal struct {
	entry []byte // the encoded envelope
	done  chan struct{}
	res   Result
	err   error
}

func newProposal(entry []byte) *proposal {
	return &proposal{entry: entry, done: make(chan struct{})}
}

func (p *proposal) finish(res Result, err error) {
	p.res, p.err = res, err
	close(p.done)
}

// wait returns the proposal's outcome. When ctx ends or the node stops
// first the command may have reached raft and may still commit (on this
// node's log replayed later, or under the next leader), so the error
// matches ErrUnknownOutcome, never ErrShutdown alone: a caller told
// ErrShutdown takes the command as not applied and may run it twice.
// Apply retries it with the same session sequence, so a retry through
// another member is deduplicated.
func (p *proposal) wait(ctx context.Context, stopping <-chan struct{}) (Result, error) {
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: %v", ErrUnknownOutcome, ctx.Err())
	case <-stopping:
		select {
		case <-p.done: // answered as the node stopped: that answer is sure
			return p.res, p.err
		default:
		}
		return Result{}, fmt.Errorf("%w: %v with the command in flight", ErrUnknownOutcome, ErrShutdown)
	}
}

func newProposer(r *raft.Raft, timeout time.Duration, stopping <-chan struct{}, m *metrics) *proposer {
	return &proposer{raft: r, timeout: timeout, stopping: stopping, metrics: m, kick: make(chan struct{}, 1),
		inFlight: make(chan struct{}, maxEntriesInFlight)}
}

// submit queues proposals, in order; their outcomes arrive on each one.
func (p *proposer) submit(ps ...*proposal) {
	p.metrics.proposalsPending.Add(int64(len(ps)))
	p.mu.Lock()
	p.queue = append(p.queue, ps...)
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run hands queued proposals to raft until the node stops.
func (p *proposer) run() {
	for {
		select {
		case <-p.kick:
		case <-p.stopping:
			p.failQueued(ErrShutdown)
			return
		}
		for {
			select {
			case p.inFlight <- struct{}{}:
			case <-p.stopping:
				p.failQueued(ErrShutdown)
				return
			}
			batch := p.take()
			if len(batch) == 0 {
				<-p.inFlight
				break
			}
			p.propose(batch)
		}
	}
}

// take removes the next batch from the queue: up to maxBatchCommands
// commands and maxBatchBytes of entry, and at least one command.
func (p *proposer) take() []*proposal {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, size := 0, 0
	for n < len(p.queue) && n < maxBatchCommands {
		size += len(p.queue[n].entry) + binary.MaxVarintLen64
		if n > 0 && size > maxBatchBytes {
			break
		}
		n++
	}
	batch := make([]*proposal, n)
	copy(batch, p.queue)
	rest := copy(p.queue, p.queue[n:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	return batch
}

// propose appends one entry for batch and answers its proposals when raft
// answers the entry.
func (p *proposer) propose(batch []*proposal) {
	var entry []byte
	if len(batch) == 1 {
		entry = batch[0].entry
	} else {
		envs := make([][]byte, len(batch))
		for i, b := range batch {
			envs[i] = b.entry
		}
		entry = encodeBatch(envs)
	}
	f := p.raft.Apply(entry, p.timeout)
	go p.complete(f, batch)
}

func (p *proposer) complete(f raft.ApplyFuture, batch []*proposal) {
	defer func() { <-p.inFlight }()
	if err := waitFuture(context.Background(), f, p.stopping); err != nil {
		err = mapRaftError(err)
		p.metrics.proposalsDone(len(batch), err)
		for _, b := range batch {
			b.finish(Result{}, err)
		}
		return
	}
	index := f.Index()
	p.metrics.proposalsDone(len(batch), nil)
	switch r := f.Response().(type) {
	case applyResult:
		if len(batch) == 1 {
			batch[0].finish(Result{Index: index, Data: r.data}, r.err)
			return
		}
		// The whole entry failed to apply (it could not be decoded).
		for _, b := range batch {
			b.finish(Result{Index: index}, r.err)
		}
	case []applyResult:
		if len(r) != len(batch) {
			err := fmt.Errorf("entry %d applied %d commands, %d were proposed", index, len(r), len(batch))
			for _, b := range batch {
				b.finish(Result{Index: index}, err)
			}
			return
		}
		for i, b := range batch {
			b.finish(Result{Index: index, Data: r[i].data}, r[i].err)
		}
	default:
		err := fmt.Errorf("unexpected apply response %T", f.Response())
		for _, b := range batch {
			b.finish(Result{}, err)
		}
	}
}

// failQueued answers every proposal still queued with err.
func (p *proposer) failQueued(err error) {
	p.mu.Lock()
	queued := p.queue
	p.queue = nil
	p.mu.Unlock()
	p.metrics.proposalsDone(len(queued), err)
	for _, b := range queued {
		b.finish(Result{}, err)
	}
}
