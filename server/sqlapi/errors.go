package sqlapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/kv"
	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/sqlstore"
)

// apiError is an error whose HTTP status the API decided itself (bad input).
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) error { return &apiError{status: http.StatusBadRequest, msg: msg} }

// errorBody is rqlite's error answer, with concord's code beside it.
type errorBody struct {
	Error string `json:"error"`
}

// statusMapping maps the errors of the database and the node to HTTP
// statuses, tested in order; anything else is a 500.
var statusMapping = []struct {
	err    error
	status int
}{
	{sqlstore.ErrTxnConflict, http.StatusConflict},
	{sqlstore.ErrTxnDone, http.StatusNotFound},
	{sqlstore.ErrTxnTooLong, http.StatusRequestEntityTooLarge},
	{sqlstore.ErrTxnAborted, http.StatusBadRequest},
	{sqlstore.ErrParams, http.StatusBadRequest},
	{sqlstore.ErrNotDeterministic, http.StatusBadRequest},
	{sqlstore.ErrForbidden, http.StatusBadRequest},
	{sqlstore.ErrResultTooLarge, http.StatusBadRequest},
	{sqlstore.ErrTooManyStatements, http.StatusRequestEntityTooLarge},
	{sqlstore.ErrCommandTooLarge, http.StatusRequestEntityTooLarge},
	{sqlstore.ErrLoadTooLarge, http.StatusRequestEntityTooLarge},
	{sqlstore.ErrBadLoad, http.StatusBadRequest},
	{sqlstore.ErrQueryTimeout, http.StatusGatewayTimeout},
	{sqlstore.ErrStale, http.StatusServiceUnavailable},
	{sqlstore.ErrClosed, http.StatusServiceUnavailable},
	{sqlstore.ErrDamaged, http.StatusServiceUnavailable}, // this member stopped serving SQL until it restarts
	{sqlstore.ErrResultUnavailable, http.StatusAccepted}, // applied, but its result was lost in a restart
	{kv.ErrNoSpace, http.StatusInsufficientStorage},      // the space quota's guard (agent)
	{node.ErrNotLeader, http.StatusServiceUnavailable},
	{node.ErrNoLeader, http.StatusServiceUnavailable},
	{node.ErrRemoved, http.StatusServiceUnavailable},
	{node.ErrShutdown, http.StatusServiceUnavailable},
	{node.ErrUnknownOutcome, http.StatusGatewayTimeout},
	{context.DeadlineExceeded, http.StatusGatewayTimeout},
	{context.Canceled, http.StatusServiceUnavailable},
	// The auth check (the agent's SQL guard): not allowed, or not (validly)
	// authenticated.
	{auth.ErrPermissionDenied, http.StatusForbidden},
	{auth.ErrUserNotFound, http.StatusForbidden},
	{auth.ErrUserEmpty, http.StatusUnauthorized},
	{auth.ErrAuthOldRevision, http.StatusUnauthorized},
	{auth.ErrInvalidAuthToken, http.StatusUnauthorized},
	{auth.ErrAuthFailed, http.StatusUnauthorized},
}

// errorStatus is the one place an error becomes an HTTP status.
func errorStatus(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	for _, m := range statusMapping {
		if errors.Is(err, m.err) {
			return m.status
		}
	}
	return http.StatusInternalServerError
}

// errorMessage words err for the body; a body over the cap names the cap.
func errorMessage(err error) string {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return "request body is larger than the limit of " + strconv.FormatInt(tooLarge.Limit, 10) + " bytes"
	}
	return err.Error()
}

func writeError(w http.ResponseWriter, err error) {
	writeJSONValue(w, errorStatus(err), errorBody{Error: errorMessage(err)}, false)
}

func writeJSONValue(w http.ResponseWriter, status int, v any, pretty bool) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "    ")
	}
	_ = enc.Encode(v)
}
