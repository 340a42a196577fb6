package etcdapi

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Names of the leader-side calls behind keep-alives and TTL queries: etcd
// keeps lease deadlines in the leader's memory, and so does concord.
const (
	callLeaseRenew = "kv.lease.renew"
	callLeaseTTL   = "kv.lease.ttl"
)

type leaseService struct{ a *API }

func (s *leaseService) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	req := *r
	if req.ID == 0 {
		req.ID = newLeaseID()
	}
	if err := s.a.quota.Check(ctx, kv.LeaseGrantCost); err != nil {
		return nil, toGRPC(err)
	}
	resp, err := propose[*pb.LeaseGrantResponse](ctx, s.a, kv.EncodeLeaseGrant(&req))
	if err != nil {
		return nil, err
	}
	resp.Header = s.a.header(resp.Header)
	return resp, nil
}

// newLeaseID draws a positive id; the proposer picks it, never apply.
func newLeaseID() int64 {
	var b [8]byte
	for {
		crand.Read(b[:])
		if id := int64(binary.LittleEndian.Uint64(b[:]) >> 1); id != 0 {
			return id
		}
	}
}

func (s *leaseService) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	resp, err := propose[*pb.LeaseRevokeResponse](ctx, s.a, kv.EncodeLeaseRevoke(r))
	if err != nil {
		return nil, err
	}
	resp.Header = s.a.header(resp.Header)
	return resp, nil
}

func (s *leaseService) LeaseKeepAlive(stream pb.Lease_LeaseKeepAliveServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ttl, err := s.a.leaderLeaseCall(stream.Context(), callLeaseRenew, req.ID)
		if errors.Is(err, kv.ErrLeaseNotFound) {
			ttl, err = 0, nil // etcd answers an unknown lease with TTL 0
		}
		if err != nil {
			return toGRPC(err)
		}
		if err := stream.Send(&pb.LeaseKeepAliveResponse{Header: s.a.header(nil), ID: req.ID, TTL: ttl}); err != nil {
			return err
		}
	}
}

func (s *leaseService) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	if err := s.a.node.ReadBarrier(ctx); err != nil {
		return nil, toGRPC(err)
	}
	resp, err := s.a.store.LeaseTimeToLive(r.ID, r.Keys)
	if errors.Is(err, kv.ErrLeaseNotFound) {
		return &pb.LeaseTimeToLiveResponse{Header: s.a.header(nil), ID: r.ID, TTL: -1}, nil
	}
	if err != nil {
		return nil, toGRPC(err)
	}
	ttl, err := s.a.leaderLeaseCall(ctx, callLeaseTTL, r.ID)
	if errors.Is(err, kv.ErrLeaseNotFound) {
		return &pb.LeaseTimeToLiveResponse{Header: s.a.header(nil), ID: r.ID, TTL: -1}, nil
	}
	if err != nil {
		return nil, toGRPC(err)
	}
	resp.TTL = ttl
	resp.Header = s.a.header(resp.Header)
	return resp, nil
}

func (s *leaseService) LeaseLeases(ctx context.Context, _ *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	if err := s.a.node.ReadBarrier(ctx); err != nil {
		return nil, toGRPC(err)
	}
	infos := s.a.store.Leases()
	resp := &pb.LeaseLeasesResponse{Header: s.a.header(nil), Leases: make([]*pb.LeaseStatus, 0, len(infos))}
	for _, l := range infos {
		resp.Leases = append(resp.Leases, &pb.LeaseStatus{ID: l.ID})
	}
	return resp, nil
}

// leaderLeaseCall runs a lessor call on the leader; the lease id goes as a
// varint, the TTL comes back as one.
func (a *API) leaderLeaseCall(ctx context.Context, name string, id int64) (int64, error) {
	resp, err := a.node.CallLeader(ctx, name, binary.AppendVarint(nil, id))
	if err != nil {
		if errors.Is(err, kv.ErrLeaseNotFound) || isLeaseNotFoundMsg(err) {
			return 0, kv.ErrLeaseNotFound
		}
		return 0, err
	}
	ttl, n := binary.Varint(resp)
	if n <= 0 {
		return 0, fmt.Errorf("malformed lease call response")
	}
	return ttl, nil
}

// isLeaseNotFoundMsg recognises kv.ErrLeaseNotFound after it crossed the
// peer RPC, which keeps the message but not the sentinel.
func isLeaseNotFoundMsg(err error) bool {
	var re *node.RemoteError
	return errors.As(err, &re) && re.Err != nil && re.Err.Error() == kv.ErrLeaseNotFound.Error()
}

// registerLeaderCalls installs the lessor's handlers on the node.
func (a *API) registerLeaderCalls() {
	handle := func(fn func(int64, time.Time) (int64, error)) node.LeaderHandler {
		return func(_ context.Context, req []byte) ([]byte, error) {
			id, n := binary.Varint(req)
			if n <= 0 {
				return nil, fmt.Errorf("malformed lease id")
			}
			ttl, err := fn(id, a.leaseNow())
			if errors.Is(err, kv.ErrNotPrimary) {
				return nil, node.ErrNotLeader // not promoted yet: the caller retries
			}
			if err != nil {
				return nil, err
			}
			return binary.AppendVarint(nil, ttl), nil
		}
	}
	a.node.HandleOnLeader(callLeaseRenew, handle(a.lessor.Renew))
	a.node.HandleOnLeader(callLeaseTTL, handle(a.lessor.TimeToLive))
}

// runLessor makes the lessor primary while this node leads and proposes
// the revokes of expired leases and the TTL checkpoints. It returns when
// ctx ends.
func (a *API) runLessor(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var primaryTerm uint64
	for {
		changed := a.node.LeaderChange()
		if a.node.IsLeader() {
			if term := a.node.Term(); primaryTerm != term && a.promote(ctx) {
				primaryTerm = term
			}
		} else if primaryTerm != 0 {
			a.lessor.Demote()
			primaryTerm = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
			if primaryTerm != 0 {
				a.expireLeases(ctx)
			}
		}
	}
}

// promote makes the lessor primary once this leader has applied everything
// earlier leaders committed (so it knows every lease).
func (a *API) promote(ctx context.Context) bool {
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.node.ReadBarrier(bctx); err != nil {
		return false
	}
	a.lessor.Promote(a.leaseNow())
	return true
}

func (a *API) expireLeases(ctx context.Context) {
	now := a.leaseNow()
	for _, id := range a.lessor.Expired(now) {
		if _, err := a.node.Apply(ctx, node.TypeKV, kv.EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: id})); err != nil {
			a.logger.Warn("could not revoke expired lease", "lease", id, "err", err)
		}
	}
	if cps := a.lessor.Checkpoints(now); len(cps) > 0 {
		if _, err := a.node.Apply(ctx, node.TypeKV, kv.EncodeLeaseCheckpoint(&pb.LeaseCheckpointRequest{Checkpoints: cps})); err != nil {
			a.logger.Warn("could not checkpoint leases", "err", err)
		}
	}
}

// lessorTick is how often the leader looks for expired leases; a lease
// outlives its TTL by at most this much.
const lessorTick = 500 * time.Millisecond
