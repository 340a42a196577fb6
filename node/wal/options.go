package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

const (
	// DefaultSegmentSize is Options.SegmentSize's default: 64 MiB.
	DefaultSegmentSize = 64 << 20
	// MaxSegmentSize bounds Options.SegmentSize: Open reads each segment
	// into memory whole to check it.
	MaxSegmentSize = 1 << 30
)

// Options configures Open. The zero value means all defaults.
type Options struct {
	// SegmentSize, in bytes, is how large the active segment file may grow
	// before an append batch starts a new one. A batch is never split, so a
	// segment exceeds SegmentSize when a single batch does. Only whole
	// segments are removed when raft compacts the log, so smaller segments
	// free disk space sooner; each new segment costs one directory fsync.
	// Zero means DefaultSegmentSize; at most MaxSegmentSize.
	SegmentSize int64
	// Logger receives what recovery did on Open (a torn final write cut
	// away, an interrupted deletion finished). Nil means discard.
	Logger *slog.Logger
	// OnSync, if set, is called after each append batch's fdatasync with
	// how long it took (the node exports it as a latency histogram). It
	// runs on the writing goroutine, before StoreLogs returns: keep it
	// short.
	OnSync func(time.Duration)
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports every invalid field of o. Zero fields are valid: they
// mean the default.
func (o Options) Validate() error {
	var errs []error
	if o.SegmentSize < 0 || o.SegmentSize > MaxSegmentSize {
		errs = append(errs, fmt.Errorf("wal: SegmentSize (%d) must be between 1 and %d bytes, or 0 for the default",
			o.SegmentSize, MaxSegmentSize))
	}
	return errors.Join(errs...)
}
