// Package resource stores Consul's typed resources (pbresource.Resource
// from github.com/hashicorp/consul/proto-public) as a concord state machine
// registered under node.TypeResource, with the storage API of Consul's
// resource backend (Backend: WriteCAS, WriteStatus, DeleteCAS, Read, List,
// ListByOwner, WatchList) and the rules of Consul's storage contract.
//
// # Why a state machine of its own
//
// Not a view over the kv keyspace: uid, version and generation must be
// decided atomically with the write, ListByOwner needs an owner index,
// watches need a history that resumes by version, and keeping resources out
// of the etcd keyspace means etcd clients cannot corrupt them. The state is
// two persistent sorted maps (schema.go): "id" (group, kind, partition,
// namespace, name: the group version is not part of the identity) whose
// prefixes serve List, and "owner" (the owner's full ID including its uid,
// then the owned resource's id) that serves ListByOwner without a scan.
// Every apply publishes them as they are (an O(1) fork), so reads never
// block apply and Snapshot is a point-in-time view.
//
// # Versions, uids and generations
//
// Commands in one raft entry share its index, so the version is a store
// revision counter incremented by every write that happens (the same
// commands in the same order give the same revisions on every member); it
// is persisted in snapshots, and Resource.Version is its decimal form. A
// failed command takes no revision. Every event carries the revision of its
// write, which is what a watch resumes from.
//
// Apply reads no clock and no randomness: the proposer draws a candidate
// uid and a generation (ULIDs, as Consul's clients expect) and carries them
// in the command. Apply uses the candidate uid only on create without a
// uid; an existing resource keeps its uid, and a resource deleted and
// created again gets the new candidate. The generation changes when data,
// metadata, owner or the stored group version change, and not on status
// writes or writes that change nothing but the version.
//
// # Commands
//
// A compact versioned binary encoding (command.go) with deterministic
// protobuf fields; its decoder is fuzzed. Results carry the contract's
// errors back to the proposer (possibly on another member) as codes, so
// Backend methods return the sentinel and typed errors of errors.go.
// Backend.Write (opUpsert) is Consul's resource-service write decided in
// apply: an empty version or uid stands for the stored one, so the
// proposer reads nothing first and the answer is the same on every member.
// A write's result carries only what apply decided (uid, generation,
// version, the statuses kept); the proposer rebuilds the resource.
// Validation and the size cap run before proposing and again in apply,
// which checks the cap the proposer carried, bounded by a hard 64 MiB, so
// members with different MaxResourceBytes still apply identically.
//
// # Reads
//
// Eventual reads read this member's last published view. Strong reads wait
// for node.ReadBarrier on this member (the leader confirms its leadership
// and this member applies up to its commit index), then read locally: no
// forwarding. A write returns once this member applied it, so a read on the
// member that wrote sees the write.
//
// # Watches
//
// WatchList from version 0 (which is also "no version": 0 is never a
// resume point) sends the matching state as Upserts (all
// carrying the snapshot's revision), then EndOfSnapshot, then every later
// matching Upsert and Delete in revision order. Resuming from a version
// sends the retained events after it. The last Config.HistoryEvents events
// are retained in memory and in snapshots, so a restarted member, or one
// caught up by a snapshot, still resumes watches; older versions give a
// HistoryCompactedError. Apply queues nothing per watch: publishing a
// write wakes every waiting watch at once, and each reads the events it
// matches from the store's shared history on its own goroutine, in
// batches. A watch more than Config.WatchBuffer matching events behind, or
// behind every event the store keeps, ends with ErrWatchOverflow and the
// client resumes from the last version it saw.
//
// A snapshot that catches this member up (Restore) moves its state forward
// over events its watches have not seen: they read on from the restored
// history, so watches miss nothing; if that history no longer reaches back
// to the revision the watches were at, or the snapshot is behind it, they
// end with a HistoryCompactedError. A rollback (RestoreRollback) ends every
// watch with a HistoryCompactedError with RolledBack set: the versions they
// saw belong to another history.
//
// # Usage
//
//	store, _ := resource.Open(resource.Config{})
//	n.Register(node.TypeResource, store) // before n.Start
//	b := resource.NewBackend(store, n)
//	res, err := b.WriteCAS(ctx, &pbresource.Resource{Id: id, Data: data})
//	got, err := b.Read(ctx, resource.StrongConsistency, res.Id)
//	w, err := b.WatchList(ctx, resource.UnversionedType{Group: "demo", Kind: "Artist"},
//		&pbresource.Tenancy{Partition: "*", Namespace: "*"}, "", 0)
//	ev, err := w.Next(ctx)
//
// Tenancy is stored as given: defaulting an empty partition or namespace
// (Consul's service does, by the type's scope) is the API face's job.
package resource
