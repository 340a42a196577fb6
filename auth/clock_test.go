package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// jumpClock models a member's two clocks: the wall clock, which an
// operator or NTP may step, and the monotonic clock, which only advances.
// Advance moves both; JumpWall moves the wall clock alone.
type jumpClock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Time // a timeline of its own: only differences matter
}

func newJumpClock() *jumpClock {
	return &jumpClock{wall: time.Unix(1_800_000_000, 0), mono: time.Unix(0, 0)}
}

func (c *jumpClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.wall }
func (c *jumpClock) Mono() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.mono }

func (c *jumpClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.wall, c.mono = c.wall.Add(d), c.mono.Add(d)
	c.mu.Unlock()
}

func (c *jumpClock) JumpWall(d time.Duration) {
	c.mu.Lock()
	c.wall = c.wall.Add(d)
	c.mu.Unlock()
}

// TestSimpleTokenTTLIgnoresWallClockJumps: a simple token lives its TTL of
// monotonic time whatever the member's wall clock does. A jump forward
// does not end it early; a jump back does not keep it alive.
func TestSimpleTokenTTLIgnoresWallClockJumps(t *testing.T) {
	for _, jump := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(jump.String(), func(t *testing.T) {
			clk := newJumpClock()
			s, _ := newTestStore(t, Config{TokenTTL: 5 * time.Second, Now: clk.Now, Mono: clk.Mono})
			ctx := context.Background()
			enableWithRoot(t, s)
			used, err := s.Authenticate(ctx, RootUser, "rootpw")
			must(t, err)
			unused, err := s.Authenticate(ctx, RootUser, "rootpw")
			must(t, err)
			clk.JumpWall(jump)
			clk.Advance(4900 * time.Millisecond)
			s.tokens.sweep()
			if _, err := s.tokenIdentity(ctx, used); err != nil {
				t.Fatalf("token ended 4.9s into its 5s TTL after a wall jump of %s: %v", jump, err)
			}
			clk.Advance(100 * time.Millisecond)
			if _, err := s.tokenIdentity(ctx, unused); !errors.Is(err, ErrInvalidAuthToken) {
				t.Fatalf("unused token outlived its 5s TTL after a wall jump of %s: %v", jump, err)
			}
			// The use at 4.9s restarted that token's TTL: it ends 5s later.
			clk.Advance(4800 * time.Millisecond)
			if _, err := s.tokenIdentity(ctx, used); err != nil {
				t.Fatalf("token ended before its renewed TTL after a wall jump of %s: %v", jump, err)
			}
			clk.Advance(5 * time.Second)
			s.tokens.sweep()
			if _, err := s.tokenIdentity(ctx, used); !errors.Is(err, ErrInvalidAuthToken) {
				t.Fatalf("token outlived its TTL after a wall jump of %s: %v", jump, err)
			}
		})
	}
}
