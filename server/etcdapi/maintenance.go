package etcdapi

import (
	"context"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// Version is the etcd API version concord reports in Status.
const Version = "3.6.0"

type maintenanceService struct{ a *API }

func (s *maintenanceService) Alarm(context.Context, *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	// concord raises no alarms: its state lives in memory, with no quota.
	return &pb.AlarmResponse{Header: s.a.header(nil)}, nil
}

func (s *maintenanceService) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	st := s.a.node.Status()
	resp := &pb.StatusResponse{
		Header:           s.a.header(nil),
		Version:          Version,
		RaftIndex:        st.CommitIndex,
		RaftTerm:         st.Term,
		RaftAppliedIndex: st.AppliedIndex,
		DbSize:           s.a.store.Size(),
		DbSizeInUse:      s.a.store.Size(),
		StorageVersion:   "3.6.0",
	}
	if st.LeaderID != "" {
		resp.Leader = MemberID(st.LeaderID)
	}
	if members, err := s.a.node.Members(ctx); err == nil {
		for _, m := range members {
			if m.ID == st.ID {
				resp.IsLearner = !m.Voter
			}
		}
	}
	return resp, nil
}

func (s *maintenanceService) Defragment(context.Context, *pb.DefragmentRequest) (*pb.DefragmentResponse, error) {
	// Nothing to defragment: state is in memory and the log is compacted
	// by snapshots. Succeed so tooling that defragments keeps working.
	return &pb.DefragmentResponse{Header: s.a.header(nil)}, nil
}

func (s *maintenanceService) Hash(context.Context, *pb.HashRequest) (*pb.HashResponse, error) {
	h, _, _, err := s.a.store.HashKV(0)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.HashResponse{Header: s.a.header(nil), Hash: h}, nil
}

func (s *maintenanceService) HashKV(_ context.Context, r *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	h, hashRev, compactRev, err := s.a.store.HashKV(r.Revision)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.HashKVResponse{Header: s.a.header(&pb.ResponseHeader{Revision: hashRev}), Hash: h, CompactRevision: compactRev, HashRevision: hashRev}, nil
}

// Snapshot streams a backup of the whole state. Unlike etcd, no sha-256
// trailer follows: clientv3's Save does not check one, and without it the
// file etcdctl saves is exactly a concord archive, verifiable by itself.
func (s *maintenanceService) Snapshot(_ *pb.SnapshotRequest, srv pb.Maintenance_SnapshotServer) error {
	ctx := srv.Context()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.a.snapshot(ctx, pw)) }()
	defer pr.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := io.ReadFull(pr, buf)
		if n > 0 {
			if serr := srv.Send(&pb.SnapshotResponse{Header: s.a.header(nil), Blob: append([]byte(nil), buf[:n]...), Version: Version}); serr != nil {
				return serr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return toGRPC(err)
		}
	}
	return nil
}

func (s *maintenanceService) MoveLeader(ctx context.Context, r *pb.MoveLeaderRequest) (*pb.MoveLeaderResponse, error) {
	if !s.a.node.IsLeader() {
		return nil, rpctypes.ErrGRPCNotLeader
	}
	id, err := s.a.memberNodeID(ctx, r.TargetID)
	if err != nil {
		return nil, err
	}
	if err := s.a.node.TransferLeadership(ctx, id); err != nil {
		return nil, rpctypes.ErrGRPCBadLeaderTransferee
	}
	return &pb.MoveLeaderResponse{Header: s.a.header(nil)}, nil
}

func (s *maintenanceService) Downgrade(context.Context, *pb.DowngradeRequest) (*pb.DowngradeResponse, error) {
	return nil, rpctypes.ErrGRPCClusterVersionUnavailable
}
