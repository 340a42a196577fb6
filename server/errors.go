package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/concord-db/concord/node"
)

// Error codes of the JSON error body. They are part of the API: scripts
// match on them, never on the message.
const (
	CodeBadRequest       = "bad_request"
	CodeTooLarge         = "body_too_large"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeNotLeader        = "not_leader"
	CodeNoLeader         = "no_leader"
	CodeNotReady         = "not_ready"
	CodeMemberConflict   = "member_conflict"
	CodeRemoved          = "removed"
	CodeShutdown         = "shutting_down"
	CodeTimeout          = "timeout"
	CodeUnknownOutcome   = "unknown_outcome"
	CodeCanceled         = "canceled"
	CodeInternal         = "internal"
	// CodeNoSpace: the NOSPACE alarm is raised or the write would pass the
	// space quota (HTTP 507); reads, deletes and compaction still work.
	CodeNoSpace = "no_space"
	// CodeDiskFull: this member's data dir is full (HTTP 507 on a write,
	// 503 on /readyz); it serves local reads and takes writes again once
	// space returns.
	CodeDiskFull = "disk_full"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// apiError is an error with its HTTP status and code already decided (bad
// input found by the server itself).
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) error { return &apiError{http.StatusBadRequest, CodeBadRequest, msg} }

// errorMapping maps a node error to the wire, in the order they are tested.
var errorMapping = []struct {
	err    error
	status int
	code   string
}{
	{node.ErrNotLeader, http.StatusServiceUnavailable, CodeNotLeader},
	{node.ErrNoLeader, http.StatusServiceUnavailable, CodeNoLeader},
	{node.ErrRemoved, http.StatusServiceUnavailable, CodeRemoved},
	{node.ErrShutdown, http.StatusServiceUnavailable, CodeShutdown},
	{node.ErrMember, http.StatusConflict, CodeMemberConflict},
	{node.ErrUnknownOutcome, http.StatusGatewayTimeout, CodeUnknownOutcome},
	{node.ErrTimeout, http.StatusGatewayTimeout, CodeTimeout},
	{node.ErrDiskFull, http.StatusInsufficientStorage, CodeDiskFull},
	{context.DeadlineExceeded, http.StatusGatewayTimeout, CodeTimeout},
	{context.Canceled, http.StatusServiceUnavailable, CodeCanceled},
}

// errorStatus decides the HTTP status and code for err. This is the one
// place where errors become HTTP.
func errorStatus(err error) (int, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.code
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, CodeTooLarge
	}
	for _, m := range authErrors {
		if errors.Is(err, m.err) {
			return m.status, m.code
		}
	}
	if status, code, ok := etcdErrorStatus(err); ok {
		return status, code
	}
	for _, m := range errorMapping {
		if errors.Is(err, m.err) {
			return m.status, m.code
		}
	}
	return http.StatusInternalServerError, CodeInternal
}

// writeError writes err as a JSON error body with its mapped status.
func writeError(w http.ResponseWriter, err error) {
	status, code := errorStatus(err)
	writeJSON(w, status, ErrorBody{Error: errorMessage(err), Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// fail writes err and logs it when it is the server's problem, not the
// caller's (a 5xx other than the expected "no leader" kind of answer).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := errorStatus(err)
	if status == http.StatusInternalServerError {
		s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if status >= 500 {
		s.cfg.Logger.Debug("request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	writeError(w, err)
}
