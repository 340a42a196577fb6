package node

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// typeNode is the envelope type of the node's own commands.
const typeNode Type = 0

// clusterMeta is the node's own replicated state: the cluster id and what
// raft's configuration does not hold about each member (its client URL), and
// the ids of removed members so a removed node can be told why it is out.
type clusterMeta struct {
	clusterID uint64
	members   map[string]memberMeta
	removed   map[string]bool
	// rollbacks counts the rollbacks the agreed state went through; a
	// snapshot carrying a higher count than the node's replaces its state
	// rather than catching it up (see RollbackRestorer).
	rollbacks uint64
}

type memberMeta struct {
	ClientAddr string
}

// Node command kinds (first payload byte of a typeNode envelope).
const (
	metaSetClusterID byte = 1
	metaSetMember    byte = 2
	metaRemoved      byte = 3
)

func newClusterMeta() *clusterMeta {
	return &clusterMeta{members: map[string]memberMeta{}, removed: map[string]bool{}}
}

func encodeSetClusterID(id uint64) []byte {
	return binary.LittleEndian.AppendUint64([]byte{metaSetClusterID}, id)
}

func encodeSetMember(id string, m memberMeta) []byte {
	b := appendString([]byte{metaSetMember}, id)
	return appendString(b, m.ClientAddr)
}

func encodeRemoved(id string) []byte { return appendString([]byte{metaRemoved}, id) }

func (c *clusterMeta) apply(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("empty node command")
	}
	kind, b := b[0], b[1:]
	switch kind {
	case metaSetClusterID:
		if len(b) != 8 {
			return fmt.Errorf("malformed cluster id command")
		}
		if c.clusterID == 0 { // the first one wins; later ones are no-ops
			c.clusterID = binary.LittleEndian.Uint64(b)
		}
	case metaSetMember:
		id, rest, err := cutString(b)
		if err != nil {
			return err
		}
		addr, _, err := cutString(rest)
		if err != nil {
			return err
		}
		c.members[id] = memberMeta{ClientAddr: addr}
		delete(c.removed, id)
	case metaRemoved:
		id, _, err := cutString(b)
		if err != nil {
			return err
		}
		delete(c.members, id)
		c.removed[id] = true
	default:
		return fmt.Errorf("unknown node command %d", kind)
	}
	return nil
}

func (c *clusterMeta) clone() *clusterMeta {
	n := newClusterMeta()
	n.clusterID = c.clusterID
	n.rollbacks = c.rollbacks
	for k, v := range c.members {
		n.members[k] = v
	}
	for k := range c.removed {
		n.removed[k] = true
	}
	return n
}

func (c *clusterMeta) writeTo(w io.Writer) error {
	b := binary.LittleEndian.AppendUint64(nil, c.clusterID)
	b = binary.AppendUvarint(b, uint64(len(c.members)))
	for _, id := range slices.Sorted(mapKeys(c.members)) {
		b = appendString(appendString(b, id), c.members[id].ClientAddr)
	}
	b = binary.AppendUvarint(b, uint64(len(c.removed)))
	for _, id := range slices.Sorted(mapKeys(c.removed)) {
		b = appendString(b, id)
	}
	b = binary.AppendUvarint(b, c.rollbacks)
	_, err := w.Write(b)
	return err
}

func readClusterMeta(br *bufio.Reader) (*clusterMeta, error) {
	c := newClusterMeta()
	var idb [8]byte
	if _, err := io.ReadFull(br, idb[:]); err != nil {
		return nil, fmt.Errorf("cluster meta: %w", err)
	}
	c.clusterID = binary.LittleEndian.Uint64(idb[:])
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, fmt.Errorf("cluster meta: %w", err)
	}
	for range n {
		id, err1 := readBytes(br, 4096)
		addr, err2 := readBytes(br, 4096)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("cluster meta: malformed member")
		}
		c.members[string(id)] = memberMeta{ClientAddr: string(addr)}
	}
	if n, err = binary.ReadUvarint(br); err != nil {
		return nil, fmt.Errorf("cluster meta: %w", err)
	}
	for range n {
		id, err := readBytes(br, 4096)
		if err != nil {
			return nil, fmt.Errorf("cluster meta: malformed removed member")
		}
		c.removed[string(id)] = true
	}
	// Written since rollbacks were counted; absent from older streams.
	if n, err := binary.ReadUvarint(br); err == nil {
		c.rollbacks = n
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("cluster meta: rollbacks: %w", err)
	}
	return c, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func cutString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, fmt.Errorf("malformed string")
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}
