package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/internal/metricstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// serve runs s on a loopback listener until the test ends and returns its
// address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// TestRequestMetrics: HTTP requests and gRPC calls are counted and timed
// by face, route or method and code, as a scrape of /metrics shows them;
// routes are labelled by pattern, never by raw path.
func TestRequestMetrics(t *testing.T) {
	s, err := New(Config{Node: newFakeNode(), Extensions: []Extension{{Name: "demo",
		Routes: map[string]http.Handler{"GET /demo/{name}": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		})}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.SetServing("", true)
	addr := serve(t, s)
	base := "http://" + addr
	before := metricstest.Scrape(t, nil, base+"/metrics")
	if !before.Has("concord_requests_total") && len(before) == 0 {
		t.Fatal("empty scrape")
	}

	get := func(path string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("/v1/status")
	get("/v1/status")
	get("/v1/members/x") // GET is not served there: 405, not counted by route
	get("/demo/a")
	get("/demo/b")
	get("/demo/c")

	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(cc)
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"}); status.Code(err) != codes.NotFound {
		t.Fatalf("check of an unknown service: %v, want NotFound", err)
	}
	// A server stream, ended by the client.
	wctx, wcancel := context.WithCancel(ctx)
	ws, err := hc.Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Recv(); err != nil {
		t.Fatal(err)
	}
	wcancel()

	waitFor(t, func() bool {
		m := metricstest.Scrape(t, nil, base+"/metrics")
		v, _ := m.Value("concord_requests_total", "api", "health", "method", "Health/Watch")
		return v == 1
	}, "the ended health watch stream to be counted")
	m := metricstest.Scrape(t, nil, base+"/metrics")
	want := []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"concord_requests_total", []string{"api", "cluster", "method", "GET /v1/status", "code", "200"}, 2},
		{"concord_request_duration_seconds", []string{"api", "cluster", "method", "GET /v1/status", "code", "200"}, 2},
		{"concord_requests_total", []string{"api", "demo", "method", "GET /demo/{name}", "code", "418"}, 3},
		{"concord_request_duration_seconds", []string{"api", "demo", "method", "GET /demo/{name}"}, 3},
		{"concord_requests_total", []string{"api", "health", "method", "Health/Check", "code", "OK"}, 1},
		{"concord_requests_total", []string{"api", "health", "method", "Health/Check", "code", "NotFound"}, 1},
		{"concord_request_duration_seconds", []string{"api", "health", "method", "Health/Check"}, 2},
		{"concord_requests_total", []string{"api", "health", "method", "Health/Watch"}, 1},
		{"concord_http_requests_total", []string{"route", "GET /v1/status", "code", "200"}, 2},
	}
	for _, w := range want {
		was, _ := before.Value(w.name, w.labels...)
		if got := m.Must(t, w.name, w.labels...); got-was != w.delta {
			t.Errorf("%s%s moved by %v, want %v", w.name, metricstest.Selector(w.labels), got-was, w.delta)
		}
	}
	// A stream's lifetime is the client's choice: counted, not timed.
	if v, ok := m.Value("concord_request_duration_seconds", "method", "Health/Watch"); ok && v > 0 {
		t.Errorf("the health watch stream was timed: %v", v)
	}
	// Label values are patterns and method names only.
	for _, fam := range []string{"concord_requests_total", "concord_request_duration_seconds"} {
		for _, s := range m[fam].GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == "method" && (strings.Contains(lp.GetValue(), "/demo/a") || strings.Contains(lp.GetValue(), "/v1/members/x")) {
					t.Errorf("%s has a raw path label: %s", fam, lp.GetValue())
				}
			}
		}
	}
	if v := m.Must(t, "concord_requests_in_flight", "api", "health"); v != 0 {
		t.Errorf("health requests in flight after they ended: %v", v)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGRPCLabels: a full method name splits into the face and the method.
func TestGRPCLabels(t *testing.T) {
	for _, tc := range []struct{ full, api, method string }{
		{"/etcdserverpb.KV/Range", "etcd", "KV/Range"},
		{"/hashicorp.consul.resource.ResourceService/Read", "resource", "ResourceService/Read"},
		{"/grpc.health.v1.Health/Check", "health", "Health/Check"},
		{"/other.pkg.Svc/Do", "other.pkg", "Svc/Do"},
	} {
		if api, method := grpcLabels(tc.full); api != tc.api || method != tc.method {
			t.Errorf("grpcLabels(%q) = %q, %q; want %q, %q", tc.full, api, method, tc.api, tc.method)
		}
	}
}

// TestPprof: the profiles are served only with Config.Pprof, and then
// listed among the routes (the auth endpoint walk calls every route).
func TestPprof(t *testing.T) {
	off := newTestServer(t, newFakeNode())
	if w := do(t, off.Handler(), "GET", "/debug/pprof/", ""); w.Code != http.StatusNotFound {
		t.Fatalf("pprof off: GET /debug/pprof/ = %d, want 404", w.Code)
	}
	if slices.ContainsFunc(off.Routes(), func(r string) bool { return strings.Contains(r, "/debug/pprof") }) {
		t.Fatalf("pprof off, but routes list it: %v", off.Routes())
	}
	on, err := New(Config{Node: newFakeNode(), Pprof: true})
	if err != nil {
		t.Fatal(err)
	}
	h := on.Handler()
	for path, want := range map[string]string{
		"/debug/pprof/":                  "goroutine",
		"/debug/pprof/goroutine?debug=1": "goroutine profile:",
		"/debug/pprof/cmdline":           "server.test",
		"/debug/pprof/heap?debug=1":      "heap profile:",
		"/debug/pprof/symbol":            "num_symbols:",
	} {
		w := do(t, h, "GET", path, "")
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET %s: %d, want 200 with %q:\n%.300s", path, w.Code, want, w.Body.String())
		}
	}
	if !slices.Contains(on.Routes(), pprofRoute) {
		t.Errorf("routes lack %q: %v", pprofRoute, on.Routes())
	}
	if on.ruleFor(pprofRoute) != ruleAdmin {
		t.Errorf("%s is not root-only", pprofRoute)
	}
}

// TestStatusVersion: GET /v1/status reports Config.Version, or the build's.
func TestStatusVersion(t *testing.T) {
	for cfgVersion, want := range map[string]string{"v9.8.7 abcdef012345": "v9.8.7 abcdef012345", "": buildVersion()} {
		s, err := New(Config{Node: newFakeNode(), Version: cfgVersion})
		if err != nil {
			t.Fatal(err)
		}
		w := do(t, s.Handler(), "GET", "/v1/status", "")
		var st StatusResponse
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Version != want || want == "" {
			t.Errorf("Version %q: status says %q (%v), want %q", cfgVersion, st.Version, err, want)
		}
	}
}
