package node

import (
	"context"
	"errors"
	"testing"
)

// TestProposalWaitOnShutdownIsUnknownOutcome: a proposal the node stops
// under may already be in raft's log, so its caller learns the outcome is
// unknown, not ErrShutdown (which reads as "not applied, run it again");
// an answer that arrived first is kept.
func TestProposalWaitOnShutdownIsUnknownOutcome(t *testing.T) {
	stopping := make(chan struct{})
	close(stopping)
	p := newProposal([]byte("x"))
	_, err := p.wait(context.Background(), stopping)
	if !errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrShutdown) {
		t.Fatalf("in-flight proposal at shutdown: %v, want ErrUnknownOutcome only", err)
	}
	answered := newProposal([]byte("y"))
	answered.finish(Result{Index: 7}, nil)
	for i := 0; i < 100; i++ { // select picks among ready cases at random
		res, err := answered.wait(context.Background(), stopping)
		if err != nil || res.Index != 7 {
			t.Fatalf("answered proposal at shutdown: %v %v", res, err)
		}
	}
	queued := newProposal([]byte("z"))
	queued.finish(Result{}, ErrShutdown) // failQueued: never reached raft
	if _, err := queued.wait(context.Background(), stopping); !errors.Is(err, ErrShutdown) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("queued proposal at shutdown: %v, want ErrShutdown", err)
	}
}
