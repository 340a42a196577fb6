package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/concord-db/concord/node"
	"golang.org/x/crypto/bcrypt"
)

// Config configures a Store.
type Config struct {
	// Token is etcd's --auth-token: "simple" (the default: random tokens
	// issued through the log, see simpleTokens) or
	// "jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256,ttl=5m" (signed
	// tokens any member verifies; see jwt.go).
	Token string
	// TokenTTL is how long a simple token lives without use (etcd's
	// --auth-token-ttl). Default DefaultTokenTTL (5 minutes).
	TokenTTL time.Duration
	// BcryptCost is the cost of password hashes (etcd's --bcrypt-cost,
	// 4 to 31). Default bcrypt.DefaultCost (10).
	BcryptCost int
	// ClientCertAuth makes a request without a token act as the user named
	// by its verified client certificate's common name, as etcd does with
	// --client-cert-auth. The agent sets it from the client TLS settings.
	ClientCertAuth bool
	// TokenWait bounds how long a member waits to apply the log entry that
	// issued a simple token presented to it before it was applied here
	// (a client that moved to a lagging member). Default 5s.
	TokenWait time.Duration
	// Logger receives auth events. Default: discard.
	Logger *slog.Logger
	// Now is the wall clock: the issue stamp of simple tokens (carried in
	// the log) and JWT claims. Default time.Now. For tests.
	Now func() time.Time
	// Mono is the clock of local simple-token expiry: only elapsed time
	// between its readings matters, so it must not jump when the wall clock
	// does (time.Now's readings compare by the monotonic clock). Default:
	// Now. Tests set it apart from Now to jump the wall clock alone.
	Mono func() time.Time
	// BeforeStampedPropose, if set, is called by Applier between a
	// write's permission check and its proposal: tests change the auth
	// state there to race a check against apply deterministically.
	BeforeStampedPropose func(ctx context.Context)
}

// Validate reports what is wrong with c, changing nothing.
func (c Config) Validate() error {
	var errs []error
	if c.BcryptCost != 0 && (c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost) {
		errs = append(errs, fmt.Errorf("bcrypt cost %d is outside [%d, %d]", c.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost))
	}
	if c.TokenTTL < 0 {
		errs = append(errs, fmt.Errorf("token TTL %s is negative", c.TokenTTL))
	}
	if _, _, err := parseTokenOpts(c.Token); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	if c.Token == "" {
		c.Token = "simple"
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = bcrypt.DefaultCost
	}
	if c.TokenWait <= 0 {
		c.TokenWait = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Mono == nil {
		c.Mono = c.Now
	}
}

// Node is what the store needs from the consensus node: proposing its
// commands, waiting for this member to apply an index, and the read
// barrier. *node.Node implements it.
type Node interface {
	Apply(ctx context.Context, t node.Type, payload []byte) (node.Result, error)
	WaitApplied(ctx context.Context, index uint64) error
	ReadBarrier(ctx context.Context) error
}

var _ Node = (*node.Node)(nil)

// Store is the auth state machine (node.TypeAuth), the operations of
// etcd's Auth API over it (service.go) and the one permission decision
// every API asks (authorizer.go). A nil *Store is a member without auth:
// it allows everything.
type Store struct {
	cfg    Config
	node   Node
	jwt    *jwtTokens // nil for simple tokens
	tokens *simpleTokens
	basic  basicCache

	mu      sync.RWMutex
	st      state
	applied uint64
	changed chan struct{} // closed and replaced at every change of st
}

var (
	_ node.StateMachine      = (*Store)(nil)
	_ node.SnapshotValidator = (*Store)(nil)
)

// New returns an empty store proposing through n. Register it on the node
// as node.TypeAuth before the node starts.
func New(cfg Config, n Node) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Store{cfg: cfg, node: n, st: newState(), tokens: newSimpleTokens(cfg.TokenTTL, cfg.Now, cfg.Mono), changed: make(chan struct{})}
	kind, opts, _ := parseTokenOpts(cfg.Token)
	if kind == tokenJWT {
		j, err := newJWTTokens(opts, cfg.Now)
		if err != nil {
			return nil, err
		}
		s.jwt = j
	}
	return s, nil
}

// Run sweeps expired simple tokens until ctx ends.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tokens.sweep()
		}
	}
}

// Changed returns a channel closed at the next change of the auth state
// (users, roles, permissions, enabled): watchers check their permission
// again then.
func (s *Store) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// notifyLocked wakes Changed's waiters; s.mu is held for writing.
func (s *Store) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Enabled reports whether authentication is on (at this member's applied
// state).
func (s *Store) Enabled() bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.enabled
}

// Revision returns the auth revision: it grows with every change of
// users, roles or permissions.
func (s *Store) Revision() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.revision
}

// BcryptCost returns the cost of the password hashes this member makes.
func (s *Store) BcryptCost() int { return s.cfg.BcryptCost }
