package auth

import (
	"crypto/rand"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTokenTTL is how long a simple token lives without use (etcd's
// --auth-token-ttl default); each use extends it by as much.
const DefaultTokenTTL = 300 * time.Second

// simpleTokens is the table of simple tokens a member knows. Tokens are
// issued through the log (Authenticate is a command), so every member
// learns every token in log order and a client may take its token to any
// member: a member that has not applied the token's entry yet waits for it
// (the token ends in that entry's index), as etcd does. The table is not
// in snapshots: a member restored from one forgets the tokens issued
// before it, and their clients authenticate again (clientv3 does that by
// itself on "invalid auth token").
//
// Expiry is local and monotonic: a token's deadline is the applying
// member's mono reading plus the TTL, and each use restarts it, so a jump
// of the wall clock neither ends tokens early nor makes them live on. The
// proposer's wall-clock issue stamp is replicated (apply must be
// deterministic given the entry) but serves only to skip entries that are
// obviously stale when replayed at restart; see assign.
type simpleTokens struct {
	ttl  time.Duration
	now  func() time.Time // wall clock: only for the replay check
	mono func() time.Time // expiry clock: compared by elapsed monotonic time

	mu sync.Mutex
	m  map[string]simpleToken
}

type simpleToken struct {
	user    string
	expires time.Time
}

func newSimpleTokens(ttl time.Duration, now, mono func() time.Time) *simpleTokens {
	return &simpleTokens{ttl: ttl, now: now, mono: mono, m: map[string]simpleToken{}}
}

// assign records token for user, issued at issued by the proposer's wall
// clock, with a full TTL from now on the monotonic clock (as etcd's
// simple-token keeper does at apply). An entry whose issue stamp is more
// than the TTL behind our wall clock (an old entry replayed at restart) is
// not recorded: that is the one wall-clock decision, and the only one a
// replicated stamp can support; a member whose wall clock is far ahead of
// the proposer's skips the token, and the client authenticates again.
func (t *simpleTokens) assign(token, user string, issued time.Time) {
	if issued.Add(t.ttl).Before(t.now()) {
		return
	}
	expires := t.mono().Add(t.ttl)
	t.mu.Lock()
	t.m[token] = simpleToken{user: user, expires: expires}
	t.mu.Unlock()
}

// info returns the user of a live token and extends its life.
func (t *simpleTokens) info(token string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tk, ok := t.m[token]
	if !ok {
		return "", false
	}
	now := t.mono()
	if !now.Before(tk.expires) {
		delete(t.m, token)
		return "", false
	}
	tk.expires = now.Add(t.ttl)
	t.m[token] = tk
	return tk.user, true
}

// invalidateUser forgets the tokens of user (deleted, or its password
// changed).
func (t *simpleTokens) invalidateUser(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, tk := range t.m {
		if tk.user == user {
			delete(t.m, k)
		}
	}
}

// disable forgets every token (auth disabled, or a snapshot restored).
func (t *simpleTokens) disable() {
	t.mu.Lock()
	t.m = map[string]simpleToken{}
	t.mu.Unlock()
}

// sweep forgets expired tokens.
func (t *simpleTokens) sweep() {
	now := t.mono()
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, tk := range t.m {
		if !now.Before(tk.expires) {
			delete(t.m, k)
		}
	}
}

// tokenLetters and tokenPrefixLen are etcd's simple token alphabet and
// length.
const (
	tokenLetters   = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	tokenPrefixLen = 16
)

// newTokenPrefix returns a random token prefix: the proposer draws it, so
// that apply stays deterministic.
func newTokenPrefix() string {
	b := make([]byte, tokenPrefixLen)
	for i := range b {
		b[i] = tokenLetters[randIntn(len(tokenLetters))]
	}
	return string(b)
}

// randIntn returns a uniform random number in [0, n) from crypto/rand.
func randIntn(n int) int {
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < 256-256%n {
			return int(b[0]) % n
		}
	}
}

// simpleTokenIndex returns the log index a simple token ends in.
func simpleTokenIndex(token string) (uint64, bool) {
	prefix, idx, ok := strings.Cut(token, ".")
	if !ok || len(prefix) != tokenPrefixLen {
		return 0, false
	}
	n, err := strconv.ParseUint(idx, 10, 64)
	return n, err == nil && n > 0
}
