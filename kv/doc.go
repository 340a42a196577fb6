// Package kv is concord's MVCC key-value state machine with etcd v3
// semantics: revisions, ranges, txns, compaction, leases and watches. It
// uses etcd's API types (etcdserverpb, mvccpb) and nothing of etcd's server.
//
// # Data flow
//
// The server turns a write into a command (EncodePut, EncodeDeleteRange,
// EncodeTxn, EncodeCompact, EncodeLeaseGrant, EncodeLeaseRevoke,
// EncodeLeaseCheckpoint), proposes it through node, and every member applies
// it with Store.Apply in log order (several commands carried by one entry
// with Store.ApplyBatch, which is equivalent and cheaper). The bytes Apply
// returns travel back to the proposer, which decodes them with DecodeResult
// or ResultAs: a pb response, or one of the sentinel errors of errors.go
// (ErrCompacted, ErrFutureRev, ErrLeaseNotFound, ErrLeaseExists,
// ErrDuplicateKey, ErrKeyNotFound, ...).
//
// Reads (Range, ReadTxn, HashKV, LeaseTimeToLive, Leases, Rev, CompactRev)
// and Watch go straight to the local Store, after whatever read barrier the
// consistency level asks for. They never block apply: the state is a set of
// persistent structures published through an atomic pointer, so a read takes
// one consistent view without locks, and Snapshot is an O(1) fork.
//
// # Determinism
//
// Apply reads no clock, no randomness and no map order. Time lives in the
// Lessor, outside apply: the leader asks it which leases expired and
// proposes their revokes, and proposes checkpoints of remaining TTLs. Lease
// IDs are chosen by the proposer, never by apply.
//
// # Usage
//
//	s := kv.New(kv.Options{Lessor: lessor})
//	defer s.Close()
//	res := s.Apply(index, kv.EncodePut(&pb.PutRequest{Key: []byte("k"), Value: []byte("v")}))
//	put, err := kv.ResultAs[*pb.PutResponse](res)
//	...
//	w := s.Watch(kv.WatchRequest{Key: []byte("k"), StartRev: put.Header.Revision})
//	for resp := range w.C() { ... }
//
// See Example for a complete program.
package kv
