package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// Extension is what an API face adds to the client port: HTTP endpoints
// served beside the built-in ones, and a section of GET /v1/status. The
// agent builds one per face (server/sqlapi, server/resourceapi, ...), so
// adding a face never edits the server's own route list.
type Extension struct {
	// Name is the face's name: its key in StatusResponse.Faces.
	Name string
	// Routes maps ServeMux patterns with a method ("POST /db/execute") to
	// their handlers. Every route is counted in the request metrics, and a
	// path served with other methods answers 405 in the JSON error shape.
	Routes map[string]http.Handler
	// Status, if set, returns the face's JSON-encodable status section.
	Status func(ctx context.Context) any
	// Public lists patterns of Routes served without credentials even
	// while auth is on (the web console's static files, which hold no
	// data). Every other route of a face needs an authenticated user.
	Public []string
}

// routeMethods groups route patterns by path: the methods each path
// serves, for the 405 answers ("GET, PUT, DELETE").
func routeMethods(patterns []string) map[string]string {
	methods := map[string][]string{}
	for _, p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			continue // a pattern without a method serves every method
		}
		methods[path] = append(methods[path], method)
	}
	allowed := make(map[string]string, len(methods))
	for path, ms := range methods {
		slices.Sort(ms)
		allowed[path] = strings.Join(slices.Compact(ms), ", ")
	}
	return allowed
}
