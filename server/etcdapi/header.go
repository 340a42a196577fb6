package etcdapi

import pb "go.etcd.io/etcd/api/v3/etcdserverpb"

// header fills what a kv response header lacks (the store sets Revision).
func (a *API) header(h *pb.ResponseHeader) *pb.ResponseHeader {
	if h == nil {
		h = &pb.ResponseHeader{Revision: a.store.Rev()}
	}
	h.ClusterId = a.node.ClusterID()
	h.MemberId = MemberID(a.node.ID())
	h.RaftTerm = a.node.Term()
	return h
}

// clusterHeader is the header of etcd's Cluster API responses, which carry
// no revision: membership is not part of the key-value history.
func (a *API) clusterHeader() *pb.ResponseHeader {
	return a.header(&pb.ResponseHeader{})
}
