package server

import (
	"net/http"
	"net/http/pprof"
)

// pprofRoute is the one route of Go's profiling endpoints (net/http/pprof)
// on the client port, served when Config.Pprof is set (concord agent
// --pprof). While auth is enabled it is root's only (routeRules): a
// profile shows the process's memory and command line.
//
//	go tool pprof http://127.0.0.1:2379/debug/pprof/heap
//	go tool pprof 'http://127.0.0.1:2379/debug/pprof/profile?seconds=30'
//	curl -o trace.out 'http://127.0.0.1:2379/debug/pprof/trace?seconds=5'
//
// One pattern rather than one per endpoint: the path-only patterns that
// answer 405 for other methods would conflict with a wildcard beside
// fixed paths.
const pprofRoute = "GET /debug/pprof/{profile...}"

// servePprof serves the index (/debug/pprof/), the CPU profile, the
// execution trace, the command line and symbol lookups by their names,
// and every runtime profile (heap, goroutine, allocs, block, mutex,
// threadcreate) by its own.
func servePprof(w http.ResponseWriter, r *http.Request) {
	switch r.PathValue("profile") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}
