package etcdapi

import (
	"context"
	"errors"

	"github.com/concord-db/concord/node"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// clusterService maps etcd's Cluster API onto raft membership: etcd
// learners are raft non-voters, and etcd member ids are MemberID(node id).
type clusterService struct{ a *API }

func (s *clusterService) MemberList(ctx context.Context, r *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	if r.Linearizable {
		if err := s.a.node.ReadBarrier(ctx); err != nil {
			return nil, toGRPC(err)
		}
	}
	members, err := s.a.node.Members(ctx)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.MemberListResponse{Header: s.a.clusterHeader(), Members: toPBMembers(members)}, nil
}

func toPBMembers(members []node.Member) []*pb.Member {
	out := make([]*pb.Member, 0, len(members))
	for _, m := range members {
		pm := &pb.Member{ID: MemberID(m.ID), PeerURLs: toURLs(m.PeerAddr), ClientURLs: toURLs(m.ClientAddr), IsLearner: !m.Voter}
		if m.Reachable { // etcd leaves the name of an unstarted member empty
			pm.Name = m.ID
		}
		out = append(out, pm)
	}
	return out
}

func (s *clusterService) MemberAdd(ctx context.Context, r *pb.MemberAddRequest) (*pb.MemberAddResponse, error) {
	if len(r.PeerURLs) != 1 {
		return nil, status.Error(codes.InvalidArgument, "etcdserver: concord members have exactly one peer URL")
	}
	addr, err := urlHost(r.PeerURLs[0])
	if err != nil {
		return nil, rpctypes.ErrGRPCMemberBadURLs
	}
	members, err := s.a.node.Members(ctx)
	if err != nil {
		return nil, toGRPC(err)
	}
	for _, m := range members {
		if m.PeerAddr == addr {
			return nil, rpctypes.ErrGRPCPeerURLExist
		}
	}
	id := nodeIDFor(addr)
	if r.IsLearner {
		err = s.a.node.AddNonVoter(ctx, id, addr, "")
	} else {
		err = s.a.node.AddVoter(ctx, id, addr, "")
	}
	if err != nil {
		return nil, toGRPC(err)
	}
	if members, err = s.membersAfterChange(ctx); err != nil {
		return nil, err
	}
	added := &pb.Member{ID: MemberID(id), PeerURLs: r.PeerURLs, IsLearner: r.IsLearner}
	return &pb.MemberAddResponse{Header: s.a.clusterHeader(), Member: added, Members: toPBMembers(members)}, nil
}

func (s *clusterService) MemberRemove(ctx context.Context, r *pb.MemberRemoveRequest) (*pb.MemberRemoveResponse, error) {
	m, err := s.find(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if err := s.a.node.RemoveServer(ctx, m.ID); err != nil {
		if isNoMember(err) { // removed concurrently
			return nil, rpctypes.ErrGRPCMemberNotFound
		}
		return nil, toGRPC(err)
	}
	members, err := s.membersAfterChange(ctx)
	if err != nil {
		return nil, err
	}
	return &pb.MemberRemoveResponse{Header: s.a.clusterHeader(), Members: toPBMembers(members)}, nil
}

func (s *clusterService) MemberUpdate(context.Context, *pb.MemberUpdateRequest) (*pb.MemberUpdateResponse, error) {
	return nil, status.Error(codes.Unimplemented, "etcdserver: concord cannot change a member's peer URL in place; remove the member and add it again")
}

func (s *clusterService) MemberPromote(ctx context.Context, r *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	m, err := s.find(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if m.Voter {
		return nil, rpctypes.ErrGRPCMemberNotLearner
	}
	if err := s.a.node.PromoteToVoter(ctx, m.ID); err != nil {
		return nil, toGRPC(err)
	}
	members, err := s.membersAfterChange(ctx)
	if err != nil {
		return nil, err
	}
	return &pb.MemberPromoteResponse{Header: s.a.clusterHeader(), Members: toPBMembers(members)}, nil
}

// membersAfterChange lists the members once this member has the change
// just made: the leader committed it, but a follower that forwarded it may
// not have received the entry yet, and would list the old membership.
func (s *clusterService) membersAfterChange(ctx context.Context) ([]node.Member, error) {
	if err := s.a.node.ReadBarrier(ctx); err != nil {
		return nil, toGRPC(err)
	}
	members, err := s.a.node.Members(ctx)
	if err != nil {
		return nil, toGRPC(err)
	}
	return members, nil
}

// find returns the member with etcd id id. It reads the membership after a
// read barrier: a follower's view may otherwise miss a change the client
// already saw acknowledged (MemberRemove of a member just removed through
// another member must say ErrGRPCMemberNotFound, as etcd does).
func (s *clusterService) find(ctx context.Context, id uint64) (node.Member, error) {
	if err := s.a.node.ReadBarrier(ctx); err != nil {
		return node.Member{}, toGRPC(err)
	}
	members, err := s.a.node.Members(ctx)
	if err != nil {
		return node.Member{}, toGRPC(err)
	}
	for _, m := range members {
		if MemberID(m.ID) == id {
			return m, nil
		}
	}
	return node.Member{}, rpctypes.ErrGRPCMemberNotFound
}

// memberNodeID resolves an etcd member id to a node id.
func (a *API) memberNodeID(ctx context.Context, id uint64) (string, error) {
	m, err := (&clusterService{a}).find(ctx, id)
	if err != nil {
		return "", err
	}
	return m.ID, nil
}

// isNoMember recognises node's refusal of a change to a member that is not
// (or no longer) in the configuration.
func isNoMember(err error) bool { return errors.Is(err, node.ErrNoMember) }
