package server

import (
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// SlowRequest is how long a request may take before the server logs it at
// warn level with its duration (etcd warns of "request took too long" past
// 100 ms of apply; a whole HTTP request gets more room).
const SlowRequest = time.Second

// slowLog logs a request on route that took longer than limit, one line
// with the route, method, status and duration. Streams (watches, and any
// response its handler flushes before it ends, as a resource list watch
// on its list route does) and snapshot transfers and profiles take as
// long as they take and are not logged.
func slowLog(logger *slog.Logger, route string, limit time.Duration, h http.Handler) http.Handler {
	if strings.Contains(route, "/watch") || strings.Contains(route, "/snapshot") || strings.Contains(route, "/debug/pprof/") {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &flushSeenWriter{statusWriter: statusWriter{ResponseWriter: w, status: http.StatusOK}}
		h.ServeHTTP(rw, r)
		if took := time.Since(start); took > limit && !rw.flushed {
			logger.Warn("slow request", "route", route, "method", r.Method, "path", r.URL.Path,
				"status", rw.status, "took", took.Round(time.Millisecond))
		}
	})
}

// flushSeenWriter records whether its handler flushed: a response sent in
// pieces is a stream.
type flushSeenWriter struct {
	statusWriter
	flushed bool
}

// FlushError is what http.ResponseController.Flush calls.
func (w *flushSeenWriter) FlushError() error {
	w.flushed = true
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *flushSeenWriter) Flush() { _ = w.FlushError() }
