// Package auth is concord's authentication and role-based access control,
// with etcd v3's semantics: users (with bcrypt password hashes, or none for
// certificate-only users), roles with READ, WRITE and READWRITE permissions
// on a key, a range, a prefix or every key from one on, the root user and
// role, an auth revision, and tokens (simple or JWT).
//
// # State machine
//
// Store is a state machine of its own (node.TypeAuth). Every change is a
// Command in the log carrying etcd's request type, the requester (checked
// again in apply for the changes only root may make) and, for
// Authenticate, the proposer's clock and random token prefix. Passwords
// are hashed before proposing, never in apply, so apply is deterministic.
// The state is a snapshot section of its own (Snapshot, Restore,
// ValidateSnapshot).
//
// # The one decision
//
// Every API asks Authorize(ctx, Request{User, Op, Namespace, Key,
// RangeEnd}) with the Identity it got from IdentityFromGRPC (etcd's
// "token" metadata, or the client certificate's common name) or
// IdentityFromHTTP (a bearer token, Basic credentials, or the certificate).
// With auth disabled, or a nil *Store, everything is allowed.
//
// # Usage
//
//	s, _ := auth.New(auth.Config{}, n)     // n: the node
//	_ = n.Register(node.TypeAuth, s)
//	id, err := s.IdentityFromHTTP(r)
//	if err == nil {
//		err = s.Authorize(ctx, auth.Request{User: id, Op: auth.OpWrite, Namespace: auth.NamespaceSQL, Key: []byte("main")})
//	}
package auth
