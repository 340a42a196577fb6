package server

import (
	"context"
	"sync"

	"github.com/concord-db/concord/node"
)

// fakeNode is a Node whose answers the test sets, recording the changes it
// is asked for.
type fakeNode struct {
	mu         sync.Mutex
	status     node.Status
	members    []node.Member
	membersErr error
	ready      chan struct{}
	leaderErr  error
	removed    bool
	changeErr  error // returned by every membership change
	calls      []string
}

func newFakeNode() *fakeNode {
	f := &fakeNode{
		ready: make(chan struct{}),
		status: node.Status{ID: "n1", State: "Leader", Leader: "127.0.0.1:2380", LeaderID: "n1",
			Term: 3, CommitIndex: 42, AppliedIndex: 41, LastLogIndex: 42, ClusterID: 0xabc},
		members: []node.Member{
			{ID: "n1", PeerAddr: "127.0.0.1:2380", ClientAddr: "127.0.0.1:2379", Voter: true, Leader: true, Reachable: true,
				Status: node.Status{ID: "n1", State: "Leader", Term: 3, CommitIndex: 42, AppliedIndex: 41}},
			{ID: "n2", PeerAddr: "127.0.0.1:3380", ClientAddr: "127.0.0.1:3379", Voter: true,
				Status: node.Status{ID: "n2", State: "Unknown"}},
		},
	}
	close(f.ready)
	return f
}

func (f *fakeNode) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.changeErr
}

func (f *fakeNode) ID() string             { return f.status.ID }
func (f *fakeNode) Status() node.Status    { return f.status }
func (f *fakeNode) Ready() <-chan struct{} { return f.ready }
func (f *fakeNode) Removed() bool          { return f.removed }

func (f *fakeNode) Members(context.Context) ([]node.Member, error) {
	return f.members, f.membersErr
}

func (f *fakeNode) Leader() (string, string, error) {
	if f.leaderErr != nil {
		return "", "", f.leaderErr
	}
	return f.status.LeaderID, f.status.Leader, nil
}

func (f *fakeNode) AddVoter(_ context.Context, id, peer, client string) error {
	return f.record("AddVoter " + id + " " + peer + " " + client)
}

func (f *fakeNode) AddNonVoter(_ context.Context, id, peer, client string) error {
	return f.record("AddNonVoter " + id + " " + peer + " " + client)
}

func (f *fakeNode) RemoveServer(_ context.Context, id string) error {
	return f.record("RemoveServer " + id)
}

func (f *fakeNode) TransferLeadership(_ context.Context, id string) error {
	return f.record("TransferLeadership " + id)
}
