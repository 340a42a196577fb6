package auth

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"net/http"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// IdentityFromGRPC returns who makes a gRPC request: the user of the token
// in the "token" metadata (etcd's; "authorization" too), else, with
// ClientCertAuth, the common name of the verified client certificate,
// else nobody (Authorize then answers ErrUserEmpty). A token that is not
// valid gives ErrInvalidAuthToken. With auth disabled it is always nobody.
func (s *Store) IdentityFromGRPC(ctx context.Context) (Identity, error) {
	if !s.Enabled() {
		return Identity{}, nil
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		ts := md.Get(rpctypes.TokenFieldNameGRPC)
		if len(ts) == 0 {
			ts = md.Get(rpctypes.TokenFieldNameSwagger)
		}
		if len(ts) > 0 {
			return s.tokenIdentity(ctx, ts[0])
		}
	}
	if p, ok := peer.FromContext(ctx); ok && p.AuthInfo != nil {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			return s.certIdentity(&ti.State), nil
		}
	}
	return Identity{}, nil
}

// IdentityFromHTTP returns who makes an HTTP request: a bearer token
// (Authorization: Bearer, from POST /v1/auth/authenticate or the etcd
// API), a user and password (Authorization: Basic, checked against the
// bcrypt hash, as rqlite does), else, with ClientCertAuth, the verified
// client certificate's common name, else nobody. Wrong credentials give
// ErrInvalidAuthToken or ErrAuthFailed.
func (s *Store) IdentityFromHTTP(r *http.Request) (Identity, error) {
	if !s.Enabled() {
		return Identity{}, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := cutPrefixFold(h, "Bearer "); ok {
			return s.tokenIdentity(r.Context(), strings.TrimSpace(tok))
		}
		if user, pass, ok := r.BasicAuth(); ok {
			if err := s.checkPasswordCached(user, pass); err != nil {
				return Identity{}, err
			}
			return Identity{Name: user}, nil
		}
		return Identity{}, ErrInvalidAuthToken
	}
	return s.certIdentity(r.TLS), nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// certIdentity is the user a verified client certificate names, if
// ClientCertAuth is on.
func (s *Store) certIdentity(cs *tls.ConnectionState) Identity {
	if !s.cfg.ClientCertAuth || cs == nil {
		return Identity{}
	}
	for _, chain := range cs.VerifiedChains {
		if len(chain) > 0 && chain[0].Subject.CommonName != "" {
			return Identity{Name: chain[0].Subject.CommonName}
		}
	}
	return Identity{}
}

// tokenIdentity resolves a token. A simple token names the log entry that
// issued it: a member that has not applied it yet waits (bounded by ctx).
func (s *Store) tokenIdentity(ctx context.Context, token string) (Identity, error) {
	if s.jwt != nil {
		name, rev, ok := s.jwt.verify(token)
		if !ok {
			return Identity{}, ErrInvalidAuthToken
		}
		return Identity{Name: name, Revision: rev}, nil
	}
	index, ok := simpleTokenIndex(token)
	if !ok {
		return Identity{}, ErrInvalidAuthToken
	}
	if s.appliedIndex() < index {
		// Bounded: a made-up index must not hold the request.
		wctx, cancel := context.WithTimeout(ctx, s.cfg.TokenWait)
		err := s.node.WaitApplied(wctx, index)
		cancel()
		if err != nil {
			return Identity{}, ErrInvalidAuthToken
		}
	}
	name, ok := s.tokens.info(token)
	if !ok {
		return Identity{}, ErrInvalidAuthToken
	}
	// A simple token is valid at the revision it is checked at: etcd's
	// simple tokens carry no revision; changes that must end a token
	// (password, deletion, disable) delete it.
	return Identity{Name: name, Revision: s.Revision()}, nil
}

func (s *Store) appliedIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// checkPassword checks a user's password against its hash and returns the
// revision it was checked at (etcd's CheckPassword). The hash comparison
// runs outside the lock: it is slow on purpose.
func (s *Store) checkPassword(name, password string) (uint64, error) {
	s.mu.RLock()
	enabled, u, rev := s.st.enabled, s.st.users[name], s.st.revision
	s.mu.RUnlock()
	if !enabled {
		return 0, ErrAuthNotEnabled
	}
	if u == nil {
		return 0, ErrAuthFailed
	}
	if isNoPassword(u) {
		return 0, ErrNoPasswordUser
	}
	if bcrypt.CompareHashAndPassword(u.Password, []byte(password)) != nil {
		return 0, ErrAuthFailed
	}
	return rev, nil
}

// checkPasswordCached is checkPassword for Basic auth, which sends the
// password with every request: a pair that matched at the current auth
// revision is not hashed again (any auth change empties the cache).
func (s *Store) checkPasswordCached(name, password string) error {
	rev := s.Revision()
	sum := sha256.Sum256([]byte(name + "\x00" + password))
	if s.basic.ok(sum, rev) {
		return nil
	}
	checked, err := s.checkPassword(name, password)
	if err != nil {
		return err
	}
	s.basic.put(sum, checked)
	return nil
}

// basicCache remembers user and password pairs that matched, with the
// revision they matched at.
type basicCache struct {
	mu sync.Mutex
	m  map[[32]byte]uint64
}

const basicCacheMax = 1024

func (c *basicCache) ok(sum [32]byte, rev uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[sum]
	return ok && r == rev
}

func (c *basicCache) put(sum [32]byte, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= basicCacheMax {
		c.m = map[[32]byte]uint64{}
	}
	c.m[sum] = rev
}

func (c *basicCache) reset() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}
