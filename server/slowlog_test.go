package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSlowLog: a request past the limit is one warn line with its route,
// status and duration; a fast one, a watch and a stream are not logged.
func TestSlowLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	limit := 20 * time.Millisecond
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		deadline := time.Now().Add(2 * limit)
		for time.Now().Before(deadline) {
			time.Sleep(limit / 4)
		}
		w.WriteHeader(http.StatusAccepted)
	})
	fast := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	// A stream on a route that also answers plain requests (the resource
	// list route with ?watch): it flushes, then takes its time.
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).Flush()
		slow.ServeHTTP(w, r)
	})

	slowLog(logger, "GET /v1/kv/{key...}", limit, fast).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/kv/a", nil))
	slowLog(logger, "GET /v1/watch/{key...}", limit, slow).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/watch/a", nil))
	slowLog(logger, "GET /v1/resource/{group}/{group_version}/{kind}", limit, stream).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/resource/demo/v2/Artist?watch", nil))
	if buf.Len() != 0 {
		t.Fatalf("logged a fast request or a watch: %s", buf.String())
	}
	slowLog(logger, "PUT /v1/kv/{key...}", limit, slow).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/v1/kv/b", nil))
	out := buf.String()
	for _, want := range []string{"level=WARN", `msg="slow request"`, "/v1/kv/b", "status=202", "took="} {
		if !strings.Contains(out, want) {
			t.Errorf("slow request line lacks %q: %s", want, out)
		}
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want one line: %s", out)
	}
}
