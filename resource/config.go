package resource

import (
	"fmt"
	"log/slog"
)

// Config configures a Store. Zero fields take the documented defaults.
type Config struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MaxResourceBytes caps a resource's encoded size (protobuf), checked
	// by WriteCAS before proposing and again in apply. The cap travels in
	// the command, so members configured differently still apply the same
	// way; it may not exceed 64 MiB. Default DefaultMaxResourceBytes.
	MaxResourceBytes int
	// HistoryEvents is how many of the latest writes are retained, in
	// memory and in snapshots, for watches to resume from. A resume from
	// an older version gets a HistoryCompactedError. Default
	// DefaultHistoryEvents.
	HistoryEvents int
	// WatchBuffer is how many matching events a watch may be behind; a
	// watch further behind ends with ErrWatchOverflow (its client resumes
	// from the last version it saw) after reading that many. The store
	// keeps the latest max(HistoryEvents, 4*WatchBuffer) events in memory
	// for watches to read from; one behind all of them ends the same way.
	// Default DefaultWatchBuffer.
	WatchBuffer int
}

const (
	// DefaultMaxResourceBytes is Consul's gRPC message limit.
	DefaultMaxResourceBytes = 4 << 20
	// DefaultHistoryEvents keeps 100 s of resumable history at 100
	// writes/s, and 1–2 s at the store's full write rate. Every retained
	// event holds a decoded resource, which the garbage collector walks and
	// each snapshot writes: with 100,000 the 1,000-watcher benchmark's p99
	// was ~87 ms (worst 269 ms) against ~51 ms (worst 103 ms) with 10,000,
	// and CAS writes 10% slower (docs/performance.md).
	DefaultHistoryEvents = 10000
	// DefaultWatchBuffer is how many matching events a watch may be behind.
	DefaultWatchBuffer = 1024
)

// WithDefaults returns c with every unset field at its documented default.
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxResourceBytes == 0 {
		c.MaxResourceBytes = DefaultMaxResourceBytes
	}
	if c.HistoryEvents == 0 {
		c.HistoryEvents = DefaultHistoryEvents
	}
	if c.WatchBuffer == 0 {
		c.WatchBuffer = DefaultWatchBuffer
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MaxResourceBytes < 0 || c.MaxResourceBytes > hardMaxResourceBytes:
		return fmt.Errorf("resource config: MaxResourceBytes must be between 0 and %d, got %d", hardMaxResourceBytes, c.MaxResourceBytes)
	case c.HistoryEvents < 0:
		return fmt.Errorf("resource config: HistoryEvents must not be negative, got %d", c.HistoryEvents)
	case c.WatchBuffer < 0:
		return fmt.Errorf("resource config: WatchBuffer must not be negative, got %d", c.WatchBuffer)
	}
	return nil
}
