package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-db/concord/server"
)

// A restore whose outcome the leader could not settle (leadership moved
// while committing) is sent again; an answer no retry can change is not.
func TestRestoreRetriesUnknownOutcome(t *testing.T) {
	for _, tc := range []struct {
		name      string
		firstCode string
		status    int
		wantCalls int32
		wantErr   string
	}{
		{"unknown outcome", server.CodeUnknownOutcome, http.StatusGatewayTimeout, 2, ""},
		{"no leader", server.CodeNoLeader, http.StatusServiceUnavailable, 2, ""},
		{"bad archive", server.CodeBadRequest, http.StatusBadRequest, 1, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if calls.Add(1) == 1 {
					w.WriteHeader(tc.status)
					json.NewEncoder(w).Encode(server.ErrorBody{Error: "first attempt", Code: tc.firstCode})
					return
				}
				json.NewEncoder(w).Encode(server.RestoreResponse{Leader: "m0", Converged: true})
			}))
			defer srv.Close()
			o := &snapshotOptions{clientOptions: clientOptions{endpoints: []string{strings.TrimPrefix(srv.URL, "http://")}}}
			body := func() (io.ReadCloser, int64, error) { return io.NopCloser(strings.NewReader("x")), 1, nil }
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var log bytes.Buffer
			resp, _, err := o.restoreRetrying(ctx, &log, body)
			if resp != nil {
				resp.Body.Close()
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Fatalf("server saw %d attempts, want %d (log %q)", got, tc.wantCalls, log.String())
			}
			if tc.wantErr == "" && err != nil {
				t.Fatalf("restore: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("restore error %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}
