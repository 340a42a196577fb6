package auth

import (
	"bytes"
	"slices"

	"go.etcd.io/etcd/api/v3/authpb"
)

// interval is a half-open key interval [start, end); end nil means no end.
type interval struct{ start, end []byte }

// keyInterval is the interval of a request or a permission in etcd's
// encoding: no range end is the single key, range end "\x00" is every key
// from key on, anything else is [key, rangeEnd). A range end at or below
// the key is treated as the single key (such a range reads nothing).
func keyInterval(key, rangeEnd []byte) interval {
	switch {
	case len(rangeEnd) == 0:
		return interval{key, append(bytes.Clone(key), 0)}
	case len(rangeEnd) == 1 && rangeEnd[0] == 0:
		return interval{key, nil}
	case bytes.Compare(rangeEnd, key) <= 0:
		return interval{key, append(bytes.Clone(key), 0)}
	}
	return interval{key, rangeEnd}
}

// grants reports whether a permission of type have allows an operation
// needing want (READ or WRITE).
func grants(have, want authpb.Permission_Type) bool {
	return have == authpb.READWRITE || have == want
}

// rangePermitted reports whether the union of u's permissions of type want
// (through its roles) covers all of [key, rangeEnd): etcd's
// isRangeOpPermitted, which merges a user's permissions so that two
// adjacent grants together allow a range neither covers alone.
func (st *state) rangePermitted(u *authpb.User, key, rangeEnd []byte, want authpb.Permission_Type) bool {
	var ivs []interval
	for _, rn := range u.Roles {
		r := st.roles[rn]
		if r == nil {
			continue
		}
		for _, p := range r.KeyPermission {
			if grants(p.PermType, want) {
				ivs = append(ivs, keyInterval(p.Key, p.RangeEnd))
			}
		}
	}
	return covers(ivs, keyInterval(key, rangeEnd))
}

// covers reports whether the union of ivs contains req.
func covers(ivs []interval, req interval) bool {
	slices.SortFunc(ivs, func(a, b interval) int { return bytes.Compare(a.start, b.start) })
	cur := req.start
	for _, iv := range ivs {
		if bytes.Compare(iv.start, cur) > 0 {
			break // a gap before cur is reached
		}
		if iv.end == nil {
			return true
		}
		if bytes.Compare(iv.end, cur) > 0 {
			cur = iv.end
		}
		if req.end != nil && bytes.Compare(cur, req.end) >= 0 {
			return true
		}
	}
	return false
}
