package etcdapi

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
)

// MemberID maps a concord node id to etcd's numeric member id. A node id of
// exactly 16 hex digits is that number (MemberAdd names new members so);
// any other id is hashed with FNV-64a.
func MemberID(nodeID string) uint64 {
	if len(nodeID) == 16 {
		if v, err := strconv.ParseUint(nodeID, 16, 64); err == nil && v != 0 {
			return v
		}
	}
	h := fnv.New64a()
	h.Write([]byte(nodeID))
	if v := h.Sum64(); v != 0 {
		return v
	}
	return 1
}

// nodeIDFor names a member added through etcd's MemberAdd, which gives only
// peer URLs: the hex form of a hash of its peer address.
func nodeIDFor(peerAddr string) string {
	h := fnv.New64a()
	h.Write([]byte(peerAddr))
	v := h.Sum64()
	if v == 0 {
		v = 1
	}
	return fmt.Sprintf("%016x", v)
}

// urlHost turns "http://host:port" (or a bare host:port) into host:port.
func urlHost(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Port() == "" {
		return "", fmt.Errorf("peer URL %q is not scheme://host:port", raw)
	}
	return u.Host, nil
}

func toURLs(addr string) []string {
	if addr == "" {
		return nil
	}
	if strings.Contains(addr, "://") {
		return []string{addr}
	}
	return []string{"http://" + addr}
}
