package auth

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/etcd/api/v3/authpb"
)

// Op is what a request does, for Authorize.
type Op uint8

const (
	// OpRead reads keys (a range, a watch, a SQL query, a resource read).
	OpRead Op = iota + 1
	// OpWrite changes keys (put, delete, SQL execute, resource write).
	OpWrite
	// OpAdmin is root's alone: snapshots, membership, maintenance,
	// compaction, auth management.
	OpAdmin
)

func (o Op) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpAdmin:
		return "admin"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Namespace is the part of the permission key space a request is in. Roles
// carry only etcd's key permissions; the other faces' objects get keys of
// their own, "\x00<namespace>/<name>" (NamespacedKey), so that one role
// grants kv keys, SQL databases and resources alike. A permission on the
// whole key space (key "", range end "\x00", or the root role) covers every
// namespace.
type Namespace string

const (
	// NamespaceKV is etcd's key space: Key and RangeEnd are used as given.
	NamespaceKV Namespace = "kv"
	// NamespaceSQL is the SQL databases: Key is the database name ("main").
	NamespaceSQL Namespace = "sql"
	// NamespaceResource is the typed resources: Key is ResourceKey(...),
	// RangeEnd is PrefixEnd of a shorter ResourceKey for a list.
	NamespaceResource Namespace = "resource"
	// NamespaceCluster is membership, status and snapshots: OpRead is any
	// authenticated user's, anything else root's.
	NamespaceCluster Namespace = "cluster"
)

// Identity is who makes a request, as IdentityFromGRPC or IdentityFromHTTP
// found it.
type Identity struct {
	// Name is the user; empty if the request carried no credentials.
	Name string
	// Revision is the auth revision the user's token was issued at: a
	// token older than the current revision is refused with
	// ErrAuthOldRevision (clients then authenticate again). 0 means the
	// credentials were checked for this very request (a password, a
	// client certificate).
	Revision uint64
}

// Request is one question to Authorize.
type Request struct {
	User      Identity
	Op        Op
	Namespace Namespace // default NamespaceKV
	// Key and RangeEnd are in etcd's range encoding within the namespace:
	// no RangeEnd is the single Key, RangeEnd "\x00" is every key from Key
	// on, else [Key, RangeEnd).
	Key, RangeEnd []byte
}

// Authorize is the one permission decision of every API: nil if r.User may
// do r.Op on r's keys, else ErrUserEmpty (no credentials), ErrAuthOldRevision
// (a token from before an auth change), ErrUserNotFound or
// ErrPermissionDenied. With auth disabled (or a nil Store) everything is
// allowed. It reads this member's applied auth state.
func (s *Store) Authorize(_ context.Context, r Request) error {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := &s.st
	if !st.enabled {
		return nil
	}
	if r.User.Name == "" {
		return ErrUserEmpty
	}
	if r.User.Revision != 0 && r.User.Revision < st.revision {
		return ErrAuthOldRevision
	}
	u := st.users[r.User.Name]
	if u == nil {
		if r.Op == OpAdmin {
			return ErrUserNotFound
		}
		return ErrPermissionDenied
	}
	if hasRootRole(u) {
		return nil
	}
	ns := r.Namespace
	if ns == "" {
		ns = NamespaceKV
	}
	switch {
	case r.Op == OpAdmin:
		return ErrPermissionDenied
	case ns == NamespaceCluster:
		if r.Op == OpRead {
			return nil
		}
		return ErrPermissionDenied
	}
	want := authpb.READ
	if r.Op == OpWrite {
		want = authpb.WRITE
	}
	key, end := NamespacedKey(ns, r.Key, r.RangeEnd)
	if st.rangePermitted(u, key, end, want) {
		return nil
	}
	return ErrPermissionDenied
}

// IsRoot reports whether id is a root user of an enabled store (or auth is
// off): etcd's IsAdminPermitted.
func (s *Store) IsRoot(id Identity) bool {
	return s.Authorize(context.Background(), Request{User: id, Op: OpAdmin}) == nil
}

// HasRole reports whether user has role (etcd lets a user read the roles
// it has).
func (s *Store) HasRole(user, role string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.users[user]
	if u == nil {
		return false
	}
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// NamespacedKey returns the permission key and range end of key and
// rangeEnd within ns: kv keys as they are, others under "\x00<ns>/". A
// from-key range end ("\x00") stays within the namespace.
func NamespacedKey(ns Namespace, key, rangeEnd []byte) ([]byte, []byte) {
	if ns == NamespaceKV || ns == "" {
		return key, rangeEnd
	}
	prefix := append([]byte{0}, ns+"/"...)
	k := append(bytes.Clone(prefix), key...)
	switch {
	case len(rangeEnd) == 0:
		return k, nil
	case len(rangeEnd) == 1 && rangeEnd[0] == 0:
		return k, PrefixEnd(prefix)
	}
	return k, append(bytes.Clone(prefix), rangeEnd...)
}

// ResourceKey is the key of a resource type and tenancy within
// NamespaceResource: "group/kind/partition/namespace". A prefix of it
// (PrefixEnd) grants a whole kind or group.
func ResourceKey(group, kind, partition, namespace string) []byte {
	return []byte(group + "/" + kind + "/" + partition + "/" + namespace)
}

// PrefixEnd returns the range end that makes [key, end) every key with
// prefix key (etcd's GetPrefixRangeEnd); "\x00" for an empty or all-0xff key.
func PrefixEnd(key []byte) []byte {
	end := bytes.Clone(key)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}

type identityKey struct{}

// WithIdentity returns ctx carrying id: the client port's guard puts the
// caller's identity there, for the handlers and faces behind it.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFromContext returns the identity WithIdentity put in ctx, and
// whether there is one.
func IdentityFromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
