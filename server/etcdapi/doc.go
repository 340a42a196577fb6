// Package etcdapi serves etcd's v3 gRPC API (KV, Watch, Lease, Cluster,
// Maintenance) from concord's own kv state machine, so etcdctl and
// go.etcd.io/etcd/client/v3 work against a concord cluster unchanged.
//
// Writes become kv commands proposed through the node (forwarded to the
// leader from any member); linearizable reads pass the node's ReadIndex
// barrier and are then served from local state; serializable reads are
// served locally at once. Errors are mapped to etcd's rpctypes in errors.go,
// and nowhere else.
package etcdapi
