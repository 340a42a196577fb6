package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/concord-db/concord/auth"
)

// Guard is what the client port needs from the auth store: who makes a
// request, whether they may, and tokens for POST /v1/auth/authenticate.
// *auth.Store implements it.
type Guard interface {
	Enabled() bool
	IdentityFromHTTP(r *http.Request) (auth.Identity, error)
	Authorize(ctx context.Context, r auth.Request) error
	Authenticate(ctx context.Context, name, password string) (string, error)
}

var _ Guard = (*auth.Store)(nil)

// Error codes of authentication and authorization failures.
const (
	CodeUnauthenticated  = "unauthenticated"
	CodePermissionDenied = "permission_denied"
)

// routeRule is who may call a route while auth is enabled.
type routeRule int

const (
	// ruleAdmin: root only. Also the rule of a built-in route missing
	// from routeRules, so a new endpoint is closed until it is listed.
	ruleAdmin routeRule = iota
	// rulePublic: anyone, without credentials.
	rulePublic
	// ruleUser: any authenticated user; the handler (the KV service, a
	// face) checks the keys, with the identity in the request context.
	ruleUser
	// ruleClusterRead: any authenticated user (membership and status).
	ruleClusterRead
	// ruleWatch: read on the watched range.
	ruleWatch
)

// routeRules lists every built-in route's rule. Routes of extensions
// (faces) are ruleUser, the face authorizing each object itself, or
// rulePublic if the face lists them in Extension.Public.
var routeRules = map[string]routeRule{
	"GET /healthz":               rulePublic,
	"GET /readyz":                rulePublic,
	"GET /metrics":               rulePublic, // Config.GuardMetrics makes it ruleClusterRead
	"POST /v1/auth/authenticate": rulePublic,
	"GET /v1/status":             ruleClusterRead,
	"GET /v1/members":            ruleClusterRead,
	"POST /v1/members":           ruleAdmin,
	"DELETE /v1/members/{id}":    ruleAdmin,
	"POST /v1/leader/transfer":   ruleAdmin,
	"GET /v1/snapshot":           ruleAdmin,
	"POST /v1/snapshot/restore":  ruleAdmin,
	"PUT /v1/kv/{key...}":        ruleUser,
	"GET /v1/kv/{key...}":        ruleUser,
	"DELETE /v1/kv/{key...}":     ruleUser,
	"POST /v1/txn":               ruleUser,
	"GET /v1/watch/{key...}":     ruleWatch,
	pprofRoute:                   ruleAdmin, // Config.Pprof's profiles
}

// ruleFor returns pattern's rule.
func (s *Server) ruleFor(pattern string) routeRule {
	if pattern == "GET /metrics" && s.cfg.GuardMetrics {
		return ruleClusterRead
	}
	if r, ok := routeRules[pattern]; ok {
		return r
	}
	for _, ext := range s.cfg.Extensions {
		if _, ok := ext.Routes[pattern]; ok {
			if slices.Contains(ext.Public, pattern) {
				return rulePublic
			}
			return ruleUser
		}
	}
	return ruleAdmin
}

// guard wraps a route's handler in the auth check: the one middleware of
// the HTTP API. It finds the caller (auth.Store.IdentityFromHTTP), applies
// the route's rule, and passes the identity on in the request context
// (auth.IdentityFromContext) for the checks of keys and objects.
func (s *Server) guard(pattern string, h http.Handler) http.Handler {
	if s.cfg.Auth == nil {
		return h
	}
	rule := s.ruleFor(pattern)
	if rule == rulePublic {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := s.cfg.Auth
		if !g.Enabled() {
			h.ServeHTTP(w, r)
			return
		}
		id, err := g.IdentityFromHTTP(r)
		if err == nil {
			err = s.checkRule(r, g, rule, id)
		}
		if err != nil {
			s.denied(w, r, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}

func (s *Server) checkRule(r *http.Request, g Guard, rule routeRule, id auth.Identity) error {
	ctx := r.Context()
	switch rule {
	case ruleAdmin:
		return g.Authorize(ctx, auth.Request{User: id, Op: auth.OpAdmin, Namespace: auth.NamespaceCluster})
	case ruleWatch:
		q := parseQuery(r, "prefix", "range_end", "from_key", "start_revision", "prev_kv", "no_put", "no_delete", "encoding")
		key, end := q.keyRange(r.PathValue("key"))
		if q.err != nil {
			return nil // the handler reports bad input
		}
		return g.Authorize(ctx, auth.Request{User: id, Op: auth.OpRead, Key: key, RangeEnd: end})
	}
	// ruleUser, ruleClusterRead: an authenticated user.
	return g.Authorize(ctx, auth.Request{User: id, Op: auth.OpRead, Namespace: auth.NamespaceCluster})
}

// ConsoleHeader marks the web console's requests (server/console): the
// console asks for credentials itself, so a 401 to it carries no Basic
// challenge, which would make the browser show its own password dialog.
const ConsoleHeader = "X-Concord-Console"

// denied answers an auth failure: 401 with a Basic challenge when the
// caller is not (validly) authenticated (but not to the web console), 403
// when it may not.
func (s *Server) denied(w http.ResponseWriter, r *http.Request, err error) {
	status, code := authErrorStatus(err)
	if status == http.StatusUnauthorized && r.Header.Get(ConsoleHeader) == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="concord"`)
	}
	s.cfg.Logger.Debug("request refused", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, status, ErrorBody{Error: err.Error(), Code: code})
}

// authErrors maps the auth store's errors to HTTP; errorStatus consults
// it, so handlers that fail with them answer the same.
var authErrors = []struct {
	err    error
	status int
	code   string
}{
	{auth.ErrUserEmpty, http.StatusUnauthorized, CodeUnauthenticated},
	{auth.ErrAuthFailed, http.StatusUnauthorized, CodeUnauthenticated},
	{auth.ErrNoPasswordUser, http.StatusUnauthorized, CodeUnauthenticated},
	{auth.ErrInvalidAuthToken, http.StatusUnauthorized, CodeUnauthenticated},
	{auth.ErrAuthOldRevision, http.StatusUnauthorized, CodeUnauthenticated},
	{auth.ErrAuthNotEnabled, http.StatusBadRequest, CodeBadRequest},
	{auth.ErrPermissionDenied, http.StatusForbidden, CodePermissionDenied},
	{auth.ErrUserNotFound, http.StatusForbidden, CodePermissionDenied},
}

// authErrorStatus maps an auth error; others are 403.
func authErrorStatus(err error) (int, string) {
	for _, m := range authErrors {
		if errors.Is(err, m.err) {
			return m.status, m.code
		}
	}
	return http.StatusForbidden, CodePermissionDenied
}

// AuthenticateRequest is the body of POST /v1/auth/authenticate.
type AuthenticateRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// AuthenticateResponse is its answer: a token for Authorization: Bearer
// (and for etcd's "token" metadata: it is the same token).
type AuthenticateResponse struct {
	Token string `json:"token"`
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) {
	var req AuthenticateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(w, r, badRequest("body must be {\"name\": ..., \"password\": ...}: "+err.Error()))
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	token, err := s.cfg.Auth.Authenticate(ctx, req.Name, req.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AuthenticateResponse{Token: token})
}

// Routes returns every HTTP route pattern the client port serves
// ("GET /v1/kv/{key...}", ...), faces' included: the endpoint walk test
// calls each of them with an unauthorised user.
func (s *Server) Routes() []string {
	if p := s.routes.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}
