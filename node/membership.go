package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// AddVoter adds a voting member (or changes nothing if it is already one
// at that address). clientAddr is recorded for Members. Callable on any node.
func (n *Node) AddVoter(ctx context.Context, id, peerAddr, clientAddr string) error {
	return n.changeMembership(ctx, &memberRequest{op: opAddVoter, id: id, addr: peerAddr, clientAddr: clientAddr})
}

// AddNonVoter adds a member that receives the log but does not vote (a
// learner, in etcd's words). Callable on any node.
func (n *Node) AddNonVoter(ctx context.Context, id, peerAddr, clientAddr string) error {
	return n.changeMembership(ctx, &memberRequest{op: opAddNonVoter, id: id, addr: peerAddr, clientAddr: clientAddr})
}

// PromoteToVoter turns a non-voter into a voter. Callable on any node.
func (n *Node) PromoteToVoter(ctx context.Context, id string) error {
	return n.changeMembership(ctx, &memberRequest{op: opPromote, id: id})
}

// RemoveServer removes a member. A removed node that restarts with its old
// data refuses to run (ErrRemoved). Callable on any node.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	return n.changeMembership(ctx, &memberRequest{op: opRemove, id: id})
}

// TransferLeadership hands leadership to the voter id, or to the most
// up-to-date voter if id is empty. Callable on any node.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	return n.changeMembership(ctx, &memberRequest{op: opTransfer, id: id})
}

// changeMembership runs req on the leader, forwarding and retrying across
// leader changes like Apply.
func (n *Node) changeMembership(ctx context.Context, req *memberRequest) error {
	if req.op != opTransfer && req.id == "" {
		return fmt.Errorf("%w: member id is required", ErrMember)
	}
	var lastErr error
	for attempt := 0; attempt <= n.cfg.CommitRetries; attempt++ {
		leaderID, leaderAddr, err := n.waitLeader(ctx)
		if err != nil {
			return err
		}
		if leaderID == n.cfg.ID {
			err = n.applyMember(ctx, req)
		} else {
			var resp memberResponse
			if err = n.peers.call(ctx, leaderAddr, "Member", req, &resp); err != nil {
				err = fmt.Errorf("%w: forwarding to leader %s: %v", ErrTimeout, leaderID, err)
			} else if rerr := resp.err(); rerr != nil {
				err = &RemoteError{Node: leaderID, Err: rerr}
			}
		}
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		lastErr = err
		n.awaitLeaderChange(ctx, leaderID)
	}
	return lastErr
}

// applyMember performs a membership change on the leader.
func (n *Node) applyMember(ctx context.Context, req *memberRequest) error {
	cfg, err := n.configuration()
	if err != nil {
		return mapRaftError(err)
	}
	current, exists := findServer(cfg, req.id)
	timeout := n.cfg.ApplyTimeout
	switch req.op {
	case opAddVoter, opAddNonVoter:
		if err := checkAddr(cfg, req.id, req.addr); err != nil {
			return err
		}
		if exists && string(current.Address) != req.addr {
			return fmt.Errorf("%w: member %s already exists with peer address %s; remove it first", ErrMember, req.id, current.Address)
		}
		var f raft.IndexFuture
		if req.op == opAddVoter {
			f = n.raft.AddVoter(raft.ServerID(req.id), raft.ServerAddress(req.addr), 0, timeout)
		} else if exists && current.Suffrage == raft.Voter {
			return fmt.Errorf("%w: %s is a voter; remove it before adding it as a non-voter", ErrMember, req.id)
		} else {
			f = n.raft.AddNonvoter(raft.ServerID(req.id), raft.ServerAddress(req.addr), 0, timeout)
		}
		if err := n.await(ctx, f); err != nil {
			return mapRaftError(err)
		}
		n.logger.Info("member added", "id", req.id, "addr", req.addr, "voter", req.op == opAddVoter)
		_, err := n.Apply(ctx, typeNode, encodeSetMember(req.id, memberMeta{ClientAddr: req.clientAddr}))
		return err
	case opPromote:
		if !exists {
			return fmt.Errorf("%w: %s", ErrNoMember, req.id)
		}
		if err := n.await(ctx, n.raft.AddVoter(current.ID, current.Address, 0, timeout)); err != nil {
			return mapRaftError(err)
		}
		n.logger.Info("member promoted to voter", "id", req.id)
		return nil
	case opRemove:
		if !exists {
			return fmt.Errorf("%w: %s", ErrNoMember, req.id)
		}
		if err := n.await(ctx, n.raft.RemoveServer(current.ID, 0, timeout)); err != nil {
			return mapRaftError(err)
		}
		n.logger.Info("member removed", "id", req.id)
		_, err := n.Apply(ctx, typeNode, encodeRemoved(req.id))
		return err
	case opTransfer:
		var f raft.Future
		if req.id == "" {
			f = n.raft.LeadershipTransfer()
		} else if !exists || current.Suffrage != raft.Voter {
			return fmt.Errorf("%w: %s is not a voter", ErrMember, req.id)
		} else if req.id == n.cfg.ID {
			return nil // already the leader
		} else {
			f = n.raft.LeadershipTransferToServer(current.ID, current.Address)
		}
		return mapRaftError(n.await(ctx, f))
	}
	return fmt.Errorf("%w: unknown operation %d", ErrMember, req.op)
}

func checkAddr(cfg raft.Configuration, id, addr string) error {
	if err := checkHostPort("peer address", addr); err != nil {
		return fmt.Errorf("%w: %v", ErrMember, err)
	}
	for _, s := range cfg.Servers {
		if string(s.Address) == addr && string(s.ID) != id {
			return fmt.Errorf("%w: peer address %s is already used by member %s", ErrMember, addr, s.ID)
		}
	}
	return nil
}

func findServer(cfg raft.Configuration, id string) (raft.Server, bool) {
	for _, s := range cfg.Servers {
		if string(s.ID) == id {
			return s, true
		}
	}
	return raft.Server{}, false
}

func (n *Node) configuration() (raft.Configuration, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, err
	}
	return f.Configuration(), nil
}

// handleMember serves a membership change for another node.
func (n *Node) handleMember(ctx context.Context, req *memberRequest) *memberResponse {
	return &memberResponse{wireErr: toWireErr(n.changeMembership(ctx, req))}
}

// Member describes one member of the cluster.
type Member struct {
	ID         string
	PeerAddr   string
	ClientAddr string
	Voter      bool
	Leader     bool
	// Reachable is false if the member did not answer a status request in
	// time; Status then holds only what the local node knows.
	Reachable bool
	Status    Status
}

// Members lists the cluster's members from this node's configuration, with
// each member's own status (asked over the peer RPC, in parallel).
func (n *Node) Members(ctx context.Context) ([]Member, error) {
	cfg, err := n.configuration()
	if err != nil {
		return nil, mapRaftError(err)
	}
	meta := n.fsm.metaSnapshot()
	leaderID, _, _ := n.Leader()
	members := make([]Member, len(cfg.Servers))
	var wg sync.WaitGroup
	for i, s := range cfg.Servers {
		m := &members[i]
		*m = Member{ID: string(s.ID), PeerAddr: string(s.Address), ClientAddr: meta.members[string(s.ID)].ClientAddr,
			Voter: s.Suffrage == raft.Voter, Leader: string(s.ID) == leaderID}
		if m.ID == n.cfg.ID {
			m.Reachable, m.Status = true, n.Status()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			var resp statusResponse
			if err := n.peers.call(cctx, m.PeerAddr, "Status", &statusRequest{}, &resp); err == nil && resp.err() == nil {
				m.Reachable, m.Status = true, resp.status
			} else {
				m.Status = Status{ID: m.ID, State: "Unknown"}
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return members, nil
}

// Status is a node's view of itself.
type Status struct {
	ID           string
	State        string // Leader, Follower, Candidate, Shutdown, Removed
	Leader       string // leader's peer address, empty if unknown
	LeaderID     string
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	LastLogIndex uint64
	ClusterID    uint64
	// LastContact is how long ago a follower last heard from the leader
	// (zero on the leader).
	LastContact time.Duration
	// DiskFull is set while the data dir's file system is full: the node
	// refuses writes (ErrDiskFull) until space returns (diskfull.go).
	DiskFull bool
	// DiskFullErrors counts the writes refused for lack of space since
	// the node started.
	DiskFullErrors uint64
}

// Status reports this node's raft state.
func (n *Node) Status() Status {
	s := Status{ID: n.cfg.ID, AppliedIndex: n.AppliedIndex(), ClusterID: n.fsm.metaSnapshot().clusterID,
		DiskFull: n.DiskFull(), DiskFullErrors: n.DiskFullErrors()}
	if n.raft == nil {
		s.State = "Starting"
		return s
	}
	s.State = n.raft.State().String()
	if n.removed.Load() {
		s.State = "Removed"
	}
	addr, id := n.raft.LeaderWithID()
	s.Leader, s.LeaderID = string(addr), string(id)
	s.Term, s.CommitIndex, s.LastLogIndex = n.raft.CurrentTerm(), n.raft.CommitIndex(), n.raft.LastIndex()
	if s.State != raft.Leader.String() {
		if lc := n.raft.LastContact(); !lc.IsZero() {
			s.LastContact = time.Since(lc)
		}
	}
	return s
}

// ClusterID returns the cluster's id, chosen by its first leader (0 until then).
func (n *Node) ClusterID() uint64 { return n.fsm.metaSnapshot().clusterID }

func (n *Node) handleStatus(context.Context, *statusRequest) *statusResponse {
	return &statusResponse{status: n.Status()}
}

// checkNotRemoved refuses to run a node whose own log says it was removed.
func (n *Node) checkNotRemoved() error {
	cfg, err := n.configuration()
	if err != nil {
		return err
	}
	if len(cfg.Servers) == 0 {
		return nil
	}
	if _, ok := findServer(cfg, n.cfg.ID); !ok {
		return fmt.Errorf("%w: the cluster configuration in %s no longer lists node %s; "+
			"wipe the data dir and join again to rejoin", ErrRemoved, n.cfg.DataDir, n.cfg.ID)
	}
	return nil
}

// watchMembership notices when this node was removed while it was away:
// with no leader for a while, it asks the peers it knows whether it is
// still a member, and stops raft (so it cannot disturb the cluster) if not.
func (n *Node) watchMembership() {
	every := max(2*n.cfg.ElectionTimeout, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	var lastAnswers string
	for {
		select {
		case <-n.stopping:
			return
		case <-t.C:
		}
		if n.raft.State() == raft.Shutdown && !n.removed.Load() {
			n.markRemoved("raft shut down after this node's removal was committed")
			continue
		}
		if _, _, err := n.Leader(); err == nil || n.removed.Load() {
			continue
		}
		by, ok, answers := n.askIfRemoved()
		if ok {
			n.markRemoved("member " + by + " says this node is no longer in the cluster")
			n.raft.Shutdown()
			continue
		}
		// What the peers said, whenever it changes: a member that stays
		// without a leader and is not told why can be diagnosed from it.
		if answers != lastAnswers {
			n.logger.Info("no leader; peers asked about this node's membership", "answers", answers)
			lastAnswers = answers
		}
	}
}

// askIfRemoved asks the other servers of this node's configuration
// whether it is still a member. It returns the first that says it is not
// (and knows a leader or that it was removed), and otherwise a summary of
// the answers.
func (n *Node) askIfRemoved() (by string, removed bool, answers string) {
	cfg, err := n.configuration()
	if err != nil {
		return "", false, "configuration: " + err.Error()
	}
	var said []string
	for _, s := range cfg.Servers {
		if string(s.ID) == n.cfg.ID {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var resp membershipCheckResponse
		err := n.peers.call(ctx, string(s.Address), "MembershipCheck", &membershipCheckRequest{id: n.cfg.ID}, &resp)
		cancel()
		if err == nil {
			err = resp.err()
		}
		switch {
		case err != nil:
			said = append(said, fmt.Sprintf("%s: %v", s.ID, err))
		case !resp.member && (resp.removed || resp.leader != ""):
			return string(s.ID), true, ""
		default:
			said = append(said, fmt.Sprintf("%s: member=%t removed=%t leader=%q", s.ID, resp.member, resp.removed, resp.leader))
		}
	}
	return "", false, strings.Join(said, "; ")
}

func (n *Node) markRemoved(why string) {
	n.removed.Store(true)
	n.logger.Error("this node was removed from the cluster and no longer takes part; wipe its data dir and join again to rejoin",
		"reason", why)
}

// Removed reports whether this node learned that it was removed.
func (n *Node) Removed() bool { return n.removed.Load() }

func (n *Node) handleMembershipCheck(_ context.Context, req *membershipCheckRequest) *membershipCheckResponse {
	resp := &membershipCheckResponse{}
	cfg, err := n.configuration()
	if err != nil {
		resp.wireErr = toWireErr(mapRaftError(err))
		return resp
	}
	if len(cfg.Servers) == 0 {
		// No configuration yet (a member still starting, before its
		// bootstrap or its first entries): it knows nothing of who is a
		// member, and must not tell a peer it was removed (a slow member
		// of a new cluster did, and the peer stopped for good).
		resp.wireErr = toWireErr(fmt.Errorf("%w: no cluster configuration yet", ErrNoLeader))
		return resp
	}
	_, resp.member = findServer(cfg, req.id)
	resp.removed = !resp.member && n.fsm.metaSnapshot().removed[req.id]
	if addr, _ := n.raft.LeaderWithID(); addr != "" {
		resp.leader = string(addr)
	}
	return resp
}

// joinLoop asks the join addresses, in turn, to add this node, until one
// does or the node is stopped.
func (n *Node) joinLoop() {
	req := &memberRequest{op: opAddVoter, id: n.cfg.ID, addr: n.cfg.AdvertisePeerAddr, clientAddr: n.cfg.ClientAddr}
	backoff := 200 * time.Millisecond
	for {
		for _, addr := range n.cfg.Join {
			ctx, cancel := context.WithTimeout(context.Background(), n.cfg.LeaderTimeout)
			var resp memberResponse
			err := n.peers.call(ctx, addr, "Member", req, &resp)
			cancel()
			if err == nil {
				err = resp.err()
			}
			if err == nil {
				n.logger.Info("joined cluster", "via", addr)
				return
			}
			n.logger.Warn("join attempt failed", "via", addr, "err", err)
			if errors.Is(err, ErrMember) {
				n.logger.Error("join refused; not retrying", "err", err)
				return
			}
		}
		select {
		case <-n.stopping:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
