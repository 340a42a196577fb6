package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/concord-db/concord/server"
)

// authTransport authenticates the REST, SQL and resource clients with
// --user: it trades the user's password for a token once (POST
// /v1/auth/authenticate on the endpoint of the first request) and sends
// the token as "Authorization: Bearer" on every request, so that the
// server hashes the password once per command, not once per request (a
// bcrypt hash costs tens of milliseconds). When a token is refused (it
// expired, or the auth state changed since: a JWT is then old) it
// authenticates again and repeats the request once, as clientv3 does.
//
// A server with auth disabled answers the authentication with "not
// enabled": requests then go without credentials. A failed
// authentication is answered to the caller as the server gave it (401
// with etcd's message), so the commands report it like any error.
type authTransport struct {
	base           http.RoundTripper
	user, password string

	mu       sync.Mutex
	token    string
	disabled bool // the server said auth is not enabled
}

// withAuth wraps base with --user's credentials, or returns base when no
// user is given.
func (o *clientAuthOptions) withAuth(base http.RoundTripper) http.RoundTripper {
	user, password := o.credentials()
	if user == "" {
		return base
	}
	return &authTransport{base: base, user: user, password: password}
}

// RoundTrip sends req with a token, authenticating first if need be.
func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, failed, err := t.tokenFor(req, false, "")
	if err != nil || failed != nil {
		return failed, err
	}
	resp, err := t.send(req, tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable(req) {
		return resp, err
	}
	// The token is no longer good (or auth was enabled since the server
	// said it was off): authenticate again, then repeat.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if tok, failed, err = t.tokenFor(req, true, tok); err != nil || failed != nil {
		return failed, err
	}
	if req.GetBody != nil {
		r2 := req.Clone(req.Context())
		if r2.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
		req = r2
	}
	return t.send(req, tok)
}

// replayable reports whether req can be sent a second time.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// send sends a copy of req with the bearer token tok (none if empty).
func (t *authTransport) send(req *http.Request, tok string) (*http.Response, error) {
	if tok == "" {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return t.base.RoundTrip(r)
}

// tokenFor returns the token to send with req: the current one, or, if
// there is none yet or refresh asks to replace the refused one (stale),
// a new one from req's endpoint. It returns "" when the server has auth
// disabled, and the server's answer as failed when the authentication is
// refused.
func (t *authTransport) tokenFor(req *http.Request, refresh bool, stale string) (tok string, failed *http.Response, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case !refresh && t.disabled:
		return "", nil, nil
	case !refresh && t.token != "", refresh && t.token != stale: // another request refreshed it
		return t.token, nil, nil
	}
	body, _ := json.Marshal(server.AuthenticateRequest{Name: t.user, Password: t.password})
	u := *req.URL
	u.Path, u.RawPath, u.RawQuery = "/v1/auth/authenticate", "", ""
	areq, err := http.NewRequestWithContext(req.Context(), http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	areq.Header.Set("Content-Type", "application/json")
	resp, err := t.base.RoundTrip(areq)
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode == http.StatusOK {
		defer resp.Body.Close()
		var ar server.AuthenticateResponse
		if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil || ar.Token == "" {
			return "", nil, err
		}
		t.token, t.disabled = ar.Token, false
		return t.token, nil, nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	var eb server.ErrorBody
	if resp.StatusCode == http.StatusBadRequest && json.Unmarshal(raw, &eb) == nil && strings.Contains(eb.Error, "not enabled") {
		t.token, t.disabled = "", true
		return "", nil, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	return "", resp, nil
}
