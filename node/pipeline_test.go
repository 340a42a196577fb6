package node

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestPipelineSendsWhileNobodyConsumes reproduces the state hashicorp/raft's
// pipelineReplicate is in after a follower answered Success=false: its
// decoder has returned, so nobody reads the pipeline's consumer channel, and
// the send loop may still send. With raft's own netPipeline the third send
// blocks forever; through pipelineTransport every send completes.
func TestPipelineSendsWhileNobodyConsumes(t *testing.T) {
	follower, err := raft.NewTCPTransportWithConfig("127.0.0.1:0", nil, &raft.NetworkTransportConfig{
		MaxPool: 2, Timeout: 10 * time.Second, Logger: hclog.NewNullLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	go func() {
		for rpc := range follower.Consumer() {
			rpc.Respond(&raft.AppendEntriesResponse{Success: false}, nil)
		}
	}()
	leader, err := raft.NewTCPTransportWithConfig("127.0.0.1:0", nil, &raft.NetworkTransportConfig{
		MaxPool: 2, Timeout: 10 * time.Second, MaxRPCsInFlight: 2, Logger: hclog.NewNullLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Close()

	var trans raft.Transport = pipelineTransport{leader}
	p, err := trans.AppendEntriesPipeline("f", follower.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	const sends = 64
	sent := make(chan error, 1)
	go func() {
		for i := range sends {
			req := &raft.AppendEntriesRequest{Term: 1, PrevLogEntry: uint64(i), LeaderCommitIndex: uint64(i)}
			if _, err := p.AppendEntries(req, &raft.AppendEntriesResponse{}); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("send: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("a pipelined send blocked while nobody read the consumer channel (the hashicorp/raft v1.8.0 pipeline deadlock)")
	}

	// Everything sent is still delivered, in order, to a late reader.
	for i := range sends {
		select {
		case f := <-p.Consumer():
			if err := f.Error(); err != nil {
				t.Fatalf("future %d: %v", i, err)
			}
			if got := f.Request().PrevLogEntry; got != uint64(i) {
				t.Fatalf("future %d is the response to send %d", i, got)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("future %d never reached the consumer", i)
		}
	}

	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close blocked")
	}
}
