package node

import (
	"context"
	"fmt"
	"sync"
)

// LeaderHandler serves a named request on the leader. State machines use it
// for work that must happen on the leader but not through the log, such as
// renewing a lease (etcd keeps lease deadlines in the leader's memory).
type LeaderHandler func(ctx context.Context, req []byte) ([]byte, error)

// leaderHandlers is the registry behind HandleOnLeader and CallLeader.
type leaderHandlers struct {
	mu sync.RWMutex
	m  map[string]LeaderHandler
}

func (h *leaderHandlers) get(name string) LeaderHandler {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.m[name]
}

// HandleOnLeader registers h under name. Register it on every node: any of
// them may become the leader.
func (n *Node) HandleOnLeader(name string, h LeaderHandler) {
	n.leaderCalls.mu.Lock()
	defer n.leaderCalls.mu.Unlock()
	if n.leaderCalls.m == nil {
		n.leaderCalls.m = map[string]LeaderHandler{}
	}
	n.leaderCalls.m[name] = h
}

// CallLeader runs the handler registered under name on the current leader
// (locally if this node leads), retrying across leader changes like Apply.
// Handler errors come back with their message; node errors keep matching
// their sentinels.
func (n *Node) CallLeader(ctx context.Context, name string, req []byte) ([]byte, error) {
	var lastErr error
	for attempt := 0; attempt <= n.cfg.CommitRetries; attempt++ {
		leaderID, leaderAddr, err := n.waitLeader(ctx)
		if err != nil {
			return nil, err
		}
		var resp []byte
		if leaderID == n.cfg.ID {
			resp, err = n.callLocal(ctx, name, req)
		} else {
			var wr leaderCallResponse
			if err = n.peers.call(ctx, leaderAddr, "LeaderCall", &leaderCallRequest{name: name, req: req}, &wr); err != nil {
				err = fmt.Errorf("%w: calling leader %s: %v", ErrTimeout, leaderID, err)
			} else if werr := wr.err(); werr != nil {
				err = &RemoteError{Node: leaderID, Err: werr}
			}
			resp = wr.resp
		}
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return resp, err
		}
		lastErr = err
		n.awaitLeaderChange(ctx, leaderID)
	}
	return nil, lastErr
}

func (n *Node) callLocal(ctx context.Context, name string, req []byte) ([]byte, error) {
	if !n.IsLeader() {
		return nil, ErrNotLeader
	}
	h := n.leaderCalls.get(name)
	if h == nil {
		return nil, fmt.Errorf("no leader handler %q on %s", name, n.cfg.ID)
	}
	return h(ctx, req)
}

func (n *Node) handleLeaderCall(ctx context.Context, req *leaderCallRequest) *leaderCallResponse {
	resp, err := n.callLocal(ctx, req.name, req.req)
	return &leaderCallResponse{wireErr: toWireErr(err), resp: resp}
}

type leaderCallRequest struct {
	name string
	req  []byte
}

type leaderCallResponse struct {
	wireErr
	resp []byte
}

func (m *leaderCallRequest) marshal() []byte { e := enc{}; e.s(m.name); e.by(m.req); return e.b }
func (m *leaderCallRequest) unmarshal(b []byte) error {
	d := dec{b: b}
	m.name, m.req = d.s(), d.by()
	return d.done()
}

func (m *leaderCallResponse) marshal() []byte {
	e := enc{}
	e.werr(m.wireErr)
	e.by(m.resp)
	return e.b
}
func (m *leaderCallResponse) unmarshal(b []byte) error {
	d := dec{b: b}
	m.wireErr, m.resp = d.werr(), d.by()
	return d.done()
}

// LeaderChange returns a channel closed at the next change of leader (or of
// this node's leadership). Call it again after it fires.
func (n *Node) LeaderChange() <-chan struct{} {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderChanged
}
