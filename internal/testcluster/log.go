package testcluster

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// NewLogger returns a logger that writes to t.Log, so logs show only when a
// test fails (or with -v). Records logged after the test ended are dropped.
// The level comes from $CONCORD_TEST_LOG (debug, info, warn, error; default
// info).
func NewLogger(t testing.TB) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(w.stop)
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("CONCORD_TEST_LOG"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}
