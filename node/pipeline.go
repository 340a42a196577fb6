package node

import (
	"sync"

	"github.com/hashicorp/raft"
)

// pipelineTransport is raft's NetworkTransport with a pipeline that cannot
// deadlock.
//
// hashicorp/raft v1.8.0's netPipeline hands each response from its decoder
// goroutine to a done channel that only raft's pipelineDecode reads. When a
// follower answers Success=false, pipelineDecode returns and nobody reads the
// done channel any more; the decoder parks on it, stops draining the
// in-progress channel, and the leader's next send parks on that channel
// inside pipelineReplicate, which is also what would close the pipeline. The
// follower never gets another entry (heartbeats still flow, so no election
// heals it) and Raft.Shutdown hangs. Found by our reliability suite; the
// same analysis is in grafana/pyroscope#5518.
//
// The fix here keeps the done channel drained: a pump goroutine moves every
// finished future into an unbounded queue that the consumer channel serves,
// so the decoder never blocks on raft and every send completes (or fails)
// with the network. The queue cannot grow without bound in practice: once
// pipelineDecode has returned, raft's send loop stops at its next select.
type pipelineTransport struct {
	*raft.NetworkTransport
}

// AppendEntriesPipeline wraps the network transport's pipeline.
func (t pipelineTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	return newDrainedPipeline(p), nil
}

// drainedPipeline is an AppendPipeline whose inner consumer channel is
// always read.
type drainedPipeline struct {
	inner raft.AppendPipeline
	out   chan raft.AppendFuture
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	err   error
}

func newDrainedPipeline(inner raft.AppendPipeline) *drainedPipeline {
	p := &drainedPipeline{
		inner: inner,
		out:   make(chan raft.AppendFuture),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go p.pump()
	return p
}

// pump moves finished futures from the inner pipeline to out, in order,
// queueing them while nobody reads out.
func (p *drainedPipeline) pump() {
	defer close(p.done)
	in := p.inner.Consumer()
	var queue []raft.AppendFuture
	for {
		var out chan raft.AppendFuture
		var next raft.AppendFuture
		if len(queue) > 0 {
			out, next = p.out, queue[0]
		}
		select {
		case f := <-in:
			queue = append(queue, f)
		case out <- next:
			queue[0] = nil
			queue = queue[1:]
		case <-p.stop:
			return
		}
	}
}

// AppendEntries sends an AppendEntries request down the pipeline.
func (p *drainedPipeline) AppendEntries(args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	return p.inner.AppendEntries(args, resp)
}

// Consumer returns the finished futures in the order they were sent.
func (p *drainedPipeline) Consumer() <-chan raft.AppendFuture { return p.out }

// Close closes the inner pipeline (which unblocks its goroutines) and stops
// the pump.
func (p *drainedPipeline) Close() error {
	p.once.Do(func() {
		p.err = p.inner.Close()
		close(p.stop)
		<-p.done
	})
	return p.err
}
