package node

import (
	"fmt"

	"github.com/hashicorp/raft"
)

// forceNewCluster rewrites this node's cluster configuration to itself
// alone (etcd's --force-new-cluster, for when a majority is lost for good):
// it appends a configuration entry listing only this node after the last
// entry of the log (or the newest snapshot), in the last entry's term, as
// hashicorp/raft's RecoverCluster does. All the data stays: nothing is
// replayed or compacted, the state machines restore and apply as on any
// start. Raft reads the newest configuration entry at start, so the node
// is a one-voter cluster, elects itself and commits the entry in its new
// term. Only for a data dir that holds state; the other old members must
// never be started on their old data again.
func (n *Node) forceNewCluster() error {
	lastIndex, err := n.store.log.LastIndex()
	if err != nil {
		return fmt.Errorf("force new cluster: read the log: %w", err)
	}
	var lastTerm uint64
	if lastIndex > 0 {
		var l raft.Log
		if err := n.store.log.GetLog(lastIndex, &l); err != nil {
			return fmt.Errorf("force new cluster: read entry %d: %w", lastIndex, err)
		}
		lastTerm = l.Term
	}
	snaps, err := n.store.snapshots.List()
	if err != nil {
		return fmt.Errorf("force new cluster: list snapshots: %w", err)
	}
	if len(snaps) > 0 && snaps[0].Index > lastIndex {
		lastIndex, lastTerm = snaps[0].Index, snaps[0].Term
	}
	if lastIndex == 0 {
		return fmt.Errorf("%w: force new cluster: the data dir holds no log and no snapshot", ErrMember)
	}
	cfg := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.ID), Address: raft.ServerAddress(n.cfg.AdvertisePeerAddr),
	}}}
	entry := &raft.Log{Index: lastIndex + 1, Term: lastTerm, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(cfg)}
	if err := n.store.log.StoreLog(entry); err != nil {
		return fmt.Errorf("force new cluster: write the configuration entry: %w", err)
	}
	n.logger.Warn("forced a new one-member cluster from this data dir: every other member is gone from the configuration",
		"index", entry.Index, "term", entry.Term)
	return nil
}
