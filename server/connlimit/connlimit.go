// Package connlimit counts what each gRPC connection of the client port
// holds open, so that one client cannot take the server's memory with
// watches however many streams it spreads them over: the gRPC server's
// MaxConcurrentStreams caps the streams of a connection, this package the
// watches of all of them together.
//
// Install Handler with grpc.StatsHandler; it gives every connection a
// Conn, which a service finds from any of the connection's stream or RPC
// contexts with FromContext.
package connlimit

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc/stats"
)

// Handler is a grpc stats.Handler that tags each connection with a Conn.
// It records nothing else.
type Handler struct {
	// MaxWatches caps the watches of each connection (Conn.AcquireWatch);
	// 0 or less: no cap.
	MaxWatches int
}

var _ stats.Handler = Handler{}

type connKey struct{}

// TagConn gives the connection its Conn.
func (h Handler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, connKey{}, &Conn{maxWatches: h.MaxWatches})
}

// HandleConn does nothing.
func (Handler) HandleConn(context.Context, stats.ConnStats) {}

// TagRPC does nothing.
func (Handler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

// HandleRPC does nothing.
func (Handler) HandleRPC(context.Context, stats.RPCStats) {}

// Conn is what one connection holds open. Safe for concurrent use.
type Conn struct {
	maxWatches int
	watches    atomic.Int64
}

// FromContext returns the Conn of the connection ctx belongs to, or nil
// when the server has no Handler (or ctx is not a gRPC server context).
func FromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}

// AcquireWatch counts one more watch on the connection unless it already
// has Handler.MaxWatches. It reports whether the watch may start; the
// caller calls ReleaseWatch once for every watch acquired, when it ends.
// A nil Conn (no Handler) always allows.
func (c *Conn) AcquireWatch() bool {
	if c == nil {
		return true
	}
	if n := c.watches.Add(1); c.maxWatches > 0 && n > int64(c.maxWatches) {
		c.watches.Add(-1)
		return false
	}
	return true
}

// ReleaseWatch uncounts a watch AcquireWatch allowed.
func (c *Conn) ReleaseWatch() {
	if c != nil {
		c.watches.Add(-1)
	}
}

// MaxWatches is the connection's cap (Handler.MaxWatches), 0 if none.
func (c *Conn) MaxWatches() int {
	if c == nil || c.maxWatches < 0 {
		return 0
	}
	return c.maxWatches
}

// Watches returns the watches open on the connection.
func (c *Conn) Watches() int64 {
	if c == nil {
		return 0
	}
	return c.watches.Load()
}
