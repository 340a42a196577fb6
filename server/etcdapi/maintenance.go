package etcdapi

import (
	"context"
	"crypto/sha256"
	"io"

	"github.com/concord-db/concord/kv"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// Version is the etcd API version concord reports in Status.
const Version = "3.6.0"

type maintenanceService struct{ a *API }

// Alarm lists, raises or disarms alarms as etcd does: GET answers the
// alarms of the type asked (all for NONE) after a linearizable read
// barrier; ACTIVATE and DEACTIVATE go through the log (kv/alarm.go), so the
// whole cluster agrees and a disarmed NOSPACE lets writes in again.
func (s *maintenanceService) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	if r.Action == pb.AlarmRequest_GET {
		if err := s.a.readBarrier(ctx, false); err != nil {
			return nil, err
		}
		return &pb.AlarmResponse{Header: s.a.header(nil), Alarms: s.a.store.Alarms(r.Alarm)}, nil
	}
	resp, err := propose[*pb.AlarmResponse](ctx, s.a, kv.EncodeAlarm(r))
	if err != nil {
		return nil, err
	}
	resp.Header = s.a.header(resp.Header)
	return resp, nil
}

// Quota returns the guard the API checks puts, writing txns and lease
// grants with, for the other faces' writes to use (kv.Guard.Check).
func (a *API) Quota() *kv.Guard { return a.quota }

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
	for _, a := range s.a.store.Alarms(pb.AlarmType_NONE) {
		resp.Errors = append(resp.Errors, a.String()) // as etcd lists raised alarms
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

// Snapshot streams a backup of the whole state: the same archive as
// GET /v1/snapshot, followed by etcd's integrity trailer (zero padding to a
// 512-byte boundary, then the sha-256 of everything before it), because
// etcdctl's `snapshot save` refuses a stream without one. concord's
// snapshot reader recognises and checks the trailer.
func (s *maintenanceService) Snapshot(_ *pb.SnapshotRequest, srv pb.Maintenance_SnapshotServer) error {
	ctx := srv.Context()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.a.snapshot(ctx, pw)) }()
	defer pr.Close()
	h := sha256.New()
	var total int64
	send := func(b []byte) error {
		h.Write(b)
		total += int64(len(b))
		return srv.Send(&pb.SnapshotResponse{Header: s.a.header(nil), Blob: b, Version: Version})
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := io.ReadFull(pr, buf)
		if n > 0 {
			if serr := send(append([]byte(nil), buf[:n]...)); serr != nil {
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
	if pad := (etcdSnapshotBlock - total%etcdSnapshotBlock) % etcdSnapshotBlock; pad > 0 {
		if err := send(make([]byte, pad)); err != nil {
			return err
		}
	}
	return srv.Send(&pb.SnapshotResponse{Header: s.a.header(nil), Blob: h.Sum(nil), Version: Version})
}

// etcdSnapshotBlock is the size etcd's snapshot body is a multiple of
// (its database page size); clients find the trailer by it.
const etcdSnapshotBlock = 512

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
