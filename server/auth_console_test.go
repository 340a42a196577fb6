package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestConsoleNoBasicChallenge: a refused request gets a Basic challenge
// (curl and scripts may answer it), except from the web console, which asks
// for credentials itself: a challenge would open the browser's dialog.
func TestConsoleNoBasicChallenge(t *testing.T) {
	s, err := New(Config{Node: newFakeNode(), MaxBodyBytes: 256, Auth: denyAnonymous{}})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for _, console := range []bool{false, true} {
		r := httptest.NewRequest("GET", "/v1/status", nil)
		if console {
			r.Header.Set(ConsoleHeader, "1")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		challenge := w.Header().Get("WWW-Authenticate")
		if w.Code != http.StatusUnauthorized || (challenge != "") == console {
			t.Errorf("console request %t: %d, WWW-Authenticate %q", console, w.Code, challenge)
		}
	}
}
