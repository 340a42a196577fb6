package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/concord-db/concord/server"
)

// fakeAuthServer issues numbered tokens for alice:pw and accepts only the
// latest; with enabled false it answers authentication with etcd's "not
// enabled" and serves everyone.
type fakeAuthServer struct {
	mu       sync.Mutex
	enabled  bool
	issued   int
	requests []string // Authorization header of each request to /x
}

func (f *fakeAuthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/v1/auth/authenticate" {
		var req server.AuthenticateRequest
		json.NewDecoder(r.Body).Decode(&req)
		switch {
		case !f.enabled:
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(server.ErrorBody{Error: "auth: authentication is not enabled", Code: "bad_request"})
		case req.Name != "alice" || req.Password != "pw":
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(server.ErrorBody{Error: "auth: authentication failed, invalid user ID or password", Code: "unauthenticated"})
		default:
			f.issued++
			json.NewEncoder(w).Encode(server.AuthenticateResponse{Token: fmt.Sprintf("t%d", f.issued)})
		}
		return
	}
	body, _ := io.ReadAll(r.Body)
	got := r.Header.Get("Authorization")
	f.requests = append(f.requests, got+" "+string(body))
	if f.enabled && got != fmt.Sprintf("Bearer t%d", f.issued) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// TestAuthTransport: --user's transport authenticates once and sends the
// token; a refused token (auth changed) makes it authenticate again and
// repeat the request with its body; a server with auth off gets no
// credentials until it starts refusing; a wrong password comes back as
// the server's 401.
func TestAuthTransport(t *testing.T) {
	f := &fakeAuthServer{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	o := clientAuthOptions{user: "alice:pw"}
	hc := &http.Client{Transport: o.withAuth(http.DefaultTransport)}
	post := func(body string) int {
		t.Helper()
		resp, err := hc.Post(srv.URL+"/x", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	last := func() string {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.requests[len(f.requests)-1]
	}

	if code := post("a"); code != 200 || last() != " a" {
		t.Fatalf("auth off: %d %q, want 200 without credentials", code, last())
	}
	f.mu.Lock()
	f.enabled = true
	f.mu.Unlock()
	if code := post("b"); code != 200 || last() != "Bearer t1 b" {
		t.Fatalf("auth enabled since: %d %q, want a retry with token t1", code, last())
	}
	if code := post("c"); code != 200 || last() != "Bearer t1 c" || f.issued != 1 {
		t.Fatalf("second request: %d %q (issued %d), want the same token", code, last(), f.issued)
	}
	f.mu.Lock()
	f.issued++ // t1 is no longer accepted: t2 is, once issued... by the next authentication
	f.mu.Unlock()
	if code := post("d"); code != 200 || last() != "Bearer t3 d" {
		t.Fatalf("after the token went stale: %d %q, want a retry with a new token", code, last())
	}

	bad := clientAuthOptions{user: "alice", password: "wrong"}
	resp, err := (&http.Client{Transport: bad.withAuth(http.DefaultTransport)}).Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "authentication failed") {
		t.Fatalf("wrong password: %d %s", resp.StatusCode, b)
	}
	if none := (&clientAuthOptions{}).withAuth(http.DefaultTransport); none != http.DefaultTransport {
		t.Fatal("no --user: the transport should be left as it is")
	}
}
