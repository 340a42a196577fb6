package auth

import (
	"bytes"
	"context"
	"encoding/binary"

	"github.com/concord-db/concord/node"
)

// Writes are checked again at apply, as etcd does: etcd stamps the auth
// revision in a request's header and its applier refuses the request with
// ErrAuthOldRevision ("etcdserver: revision of auth store is old") when
// the auth state changed between the permission check and the apply.
// concord does the same for every API's writes (kv, SQL, resources):
//
//  1. The check of a request takes a Stamp (the auth revision and whether
//     auth is enabled) before it decides, and passes it on in the request
//     context (WithStamp), also while auth is disabled.
//  2. The write's proposal (Applier) puts the stamp in front of the
//     command: stampMagic | uvarint revision | enabled byte | command.
//  3. The state machine's registration (GuardApply, GuardApplyBatch, used
//     by the agent's wrappers of the kv, SQL and resource stores) reads it
//     in apply, and refuses the command, changing nothing, if auth is
//     enabled and either the revision moved since the stamp or auth was
//     disabled at the check. The answer is staleResult, which Applier turns
//     into ErrAuthOldRevision; clients then authenticate again and retry
//     (clientv3 does that by itself), and are checked anew.
//
// The decision reads only the auth state applied before the command's
// entry, so it is the same on every member: apply stays deterministic. A
// command without a stamp (internal proposals: lease expiry, compaction,
// checkpoints) is applied as it is.

// stampMagic starts a stamped command and the refusal result. No state
// machine's command or result starts with it (kv, SQL and resource
// commands and results start with a small version or kind byte).
var stampMagic = []byte{0xA7, 0x5E}

// staleResult is what apply answers for a refused stamped command.
var staleResult = append(bytes.Clone(stampMagic), 0xFF)

// Stamp is the auth state a request was checked against.
type Stamp struct {
	Revision uint64
	Enabled  bool
}

// Stamp returns the current auth state, for a check that is about to
// decide. A nil Store gives the zero Stamp (auth off).
func (s *Store) Stamp() Stamp {
	if s == nil {
		return Stamp{}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stamp{Revision: s.st.revision, Enabled: s.st.enabled}
}

type stampKey struct{}

// WithStamp returns ctx carrying st: the writes proposed with ctx are
// refused at apply if the auth state moved since st.
func WithStamp(ctx context.Context, st Stamp) context.Context {
	return context.WithValue(ctx, stampKey{}, st)
}

// StampFromContext returns the stamp WithStamp put in ctx.
func StampFromContext(ctx context.Context) (Stamp, bool) {
	st, ok := ctx.Value(stampKey{}).(Stamp)
	return st, ok
}

// StampCommand puts st in front of cmd.
func StampCommand(st Stamp, cmd []byte) []byte {
	b := make([]byte, 0, len(stampMagic)+binary.MaxVarintLen64+1+len(cmd))
	b = append(b, stampMagic...)
	b = binary.AppendUvarint(b, st.Revision)
	flag := byte(0)
	if st.Enabled {
		flag = 1
	}
	b = append(b, flag)
	return append(b, cmd...)
}

// splitStamp returns the stamp and the command of a stamped command; ok is
// false for an unstamped (or malformed) one, which is then applied as it
// is.
func splitStamp(cmd []byte) (st Stamp, inner []byte, ok bool) {
	if !bytes.HasPrefix(cmd, stampMagic) {
		return Stamp{}, cmd, false
	}
	rest := cmd[len(stampMagic):]
	rev, n := binary.Uvarint(rest)
	if n <= 0 || len(rest) < n+1 || rest[n] > 1 {
		return Stamp{}, cmd, false
	}
	return Stamp{Revision: rev, Enabled: rest[n] == 1}, rest[n+1:], true
}

// staleLocked reports whether a command checked at st must be refused now.
// s.mu is held.
func (s *Store) staleLocked(st Stamp) bool {
	return s.st.enabled && (!st.Enabled || st.Revision < s.st.revision)
}

// GuardApply is a state machine's Apply behind the stamp check: apply runs
// cmd (without its stamp) unless the auth state moved since the stamp, in
// which case nothing is applied and the answer is the refusal.
func (s *Store) GuardApply(index uint64, cmd []byte, apply func(uint64, []byte) []byte) []byte {
	st, inner, ok := splitStamp(cmd)
	if !ok || s == nil {
		return apply(index, inner)
	}
	s.mu.RLock()
	stale := s.staleLocked(st)
	s.mu.RUnlock()
	if stale {
		return bytes.Clone(staleResult)
	}
	return apply(index, inner)
}

// GuardApplyBatch is GuardApply for a BatchApplier: the commands that pass
// are applied together, in order, and the refused ones answered with the
// refusal. The auth state cannot change within one batch (its commands
// are all of one other state machine), so this is what applying them one
// by one would do.
func (s *Store) GuardApplyBatch(index uint64, cmds [][]byte, apply func(uint64, [][]byte) [][]byte) [][]byte {
	if s == nil {
		s = &Store{} // auth off: stamps are only taken off
	}
	var pass [][]byte
	var refused []bool
	s.mu.RLock()
	for i, cmd := range cmds {
		st, inner, ok := splitStamp(cmd)
		if !ok {
			if pass != nil {
				pass = append(pass, cmd)
			}
			continue
		}
		if pass == nil { // the first stamped command: copy the ones before
			pass = append(make([][]byte, 0, len(cmds)), cmds[:i]...)
			refused = make([]bool, len(cmds))
		}
		if s.staleLocked(st) {
			refused[i] = true
			continue
		}
		pass = append(pass, inner)
	}
	s.mu.RUnlock()
	if pass == nil {
		return apply(index, cmds) // nothing stamped
	}
	var res [][]byte
	if len(pass) > 0 {
		res = apply(index, pass)
	}
	out := make([][]byte, len(cmds))
	j := 0
	for i := range cmds {
		if refused[i] {
			out[i] = bytes.Clone(staleResult)
			continue
		}
		out[i] = res[j]
		j++
	}
	return out
}

// Applier is the proposing side: Apply stamps the command with the stamp
// of ctx (if any) and turns a refusal at apply into ErrAuthOldRevision.
// The agent gives it, around the node, to the etcd API and the faces.
type Applier struct {
	Next  func(ctx context.Context, t node.Type, payload []byte) (node.Result, error)
	Store *Store
}

// Apply proposes payload for state machine t.
func (a Applier) Apply(ctx context.Context, t node.Type, payload []byte) (node.Result, error) {
	st, ok := StampFromContext(ctx)
	if !ok || a.Store == nil {
		return a.Next(ctx, t, payload)
	}
	if h := a.Store.cfg.BeforeStampedPropose; h != nil {
		h(ctx)
	}
	res, err := a.Next(ctx, t, StampCommand(st, payload))
	if err == nil && bytes.Equal(res.Data, staleResult) {
		return node.Result{}, ErrAuthOldRevision
	}
	return res, err
}
