package console

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/concord-db/concord/auth"
)

// Error codes of the console's JSON endpoints, in the client port's error
// shape {"error": ..., "code": ...}.
const (
	codeBadRequest  = "bad_request"
	codeDenied      = "permission_denied"
	codeNotFound    = "not_found"
	codeTimeout     = "timeout"
	codeUnavailable = "unavailable"
	codeInternal    = "internal"
)

// errorStatus maps an error of the node or the auth store to HTTP; it is
// the console's one mapping.
func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusGatewayTimeout, codeTimeout
	case errors.Is(err, auth.ErrUserNotFound), errors.Is(err, auth.ErrPermissionDenied):
		return http.StatusForbidden, codeDenied
	default:
		return http.StatusServiceUnavailable, codeUnavailable
	}
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeCompressed is writeJSON gzipped for clients that accept it: the
// metrics view, polled every 2 s, shrinks about five times.
func writeCompressed(w http.ResponseWriter, r *http.Request, status int, v any) {
	if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		writeJSON(w, status, v)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Add("Vary", "Accept-Encoding")
	w.WriteHeader(status)
	zw := gzip.NewWriter(w)
	_ = json.NewEncoder(zw).Encode(v)
	_ = zw.Close()
}

// noQuery refuses a request with query parameters: the console's
// endpoints take none, and a typo should not pass silently.
func noQuery(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, r.URL.Path+" takes no query parameters")
		return false
	}
	return true
}
