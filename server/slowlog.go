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
// with the route, method, status and duration. Streams (watches) and
// snapshot transfers and profiles take as long as they take and are not
// logged.
func slowLog(logger *slog.Logger, route string, limit time.Duration, h http.Handler) http.Handler {
	if strings.Contains(route, "/watch") || strings.Contains(route, "/snapshot") || strings.Contains(route, "/debug/pprof/") {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rw, r)
		if took := time.Since(start); took > limit {
			logger.Warn("slow request", "route", route, "method", r.Method, "path", r.URL.Path,
				"status", rw.status, "took", took.Round(time.Millisecond))
		}
	})
}
