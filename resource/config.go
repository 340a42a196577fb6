package resource

import (
	"fmt"
	"log/slog"
)

// Config configures a Store. Zero fields take the documented defaults.
type Config struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MaxResourceBytes caps a resource's encoded size; default 4 MiB.
	MaxResourceBytes int
	// HistoryEvents is how many watch events are retained for resumes; default 100000.
	HistoryEvents int
	// WatchBuffer is each watcher's event buffer; a watcher that fills it is
	// closed with ErrWatchOverflow. Default 1024.
	WatchBuffer int
}

// WithDefaults returns c with every unset field at its documented default.
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxResourceBytes == 0 {
		c.MaxResourceBytes = 4 << 20
	}
	if c.HistoryEvents == 0 {
		c.HistoryEvents = 100000
	}
	if c.WatchBuffer == 0 {
		c.WatchBuffer = 1024
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MaxResourceBytes < 0:
		return fmt.Errorf("resource config: MaxResourceBytes must not be negative, got %d", c.MaxResourceBytes)
	case c.HistoryEvents < 0:
		return fmt.Errorf("resource config: HistoryEvents must not be negative, got %d", c.HistoryEvents)
	case c.WatchBuffer < 0:
		return fmt.Errorf("resource config: WatchBuffer must not be negative, got %d", c.WatchBuffer)
	}
	return nil
}
