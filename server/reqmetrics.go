package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// requestMetrics count and time every request on the client port, gRPC
// and HTTP alike, in one place: the HTTP routes are wrapped by Handler and
// the gRPC calls by the interceptors New installs outermost (so a call the
// auth interceptor refuses is counted too).
//
// Labels are bounded: api is the face ("etcd", "kv", "sql", "resource",
// "cluster", ...), method the gRPC method ("KV/Range") or the HTTP route
// pattern ("GET /v1/kv/{key...}", never the raw path), code the gRPC status
// code name or the HTTP status.
type requestMetrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec

	// grpc caches each gRPC method's series by full method name
	// (*routeSeries): a call then finds its counter and histogram without
	// hashing label values (BenchmarkUnaryInterceptor).
	grpc sync.Map
}

// routeSeries are the series of one gRPC method or HTTP route, with the
// per-code counters and histograms made on first use.
type routeSeries struct {
	m           *requestMetrics
	api, method string
	stream      bool // counted, not timed
	inFlight    prometheus.Gauge
	codes       sync.Map // code label -> *codeSeries
}

type codeSeries struct {
	total    prometheus.Counter
	duration prometheus.Observer
}

// requestBuckets span 0.5 ms to ~16 s.
var requestBuckets = prometheus.ExponentialBuckets(0.0005, 2, 16)

func newRequestMetrics() *requestMetrics {
	return &requestMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_requests_total",
			Help: "Requests on the client port (gRPC calls and HTTP requests), by API face, method or route, and code.",
		}, []string{"api", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "concord_request_duration_seconds",
			Help:    "Time to answer a request on the client port, by API face, method or route, and code; streams (watches, keep-alives, snapshot downloads over gRPC) are not timed.",
			Buckets: requestBuckets,
		}, []string{"api", "method", "code"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "concord_requests_in_flight",
			Help: "Requests being served on the client port, streams included, by API face.",
		}, []string{"api"}),
	}
}

func (m *requestMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.total, m.duration, m.inFlight}
}

func (m *requestMetrics) route(api, method string, stream bool) *routeSeries {
	return &routeSeries{m: m, api: api, method: method, stream: stream, inFlight: m.inFlight.WithLabelValues(api)}
}

// observe records one finished request; stream requests are counted but
// not timed, as their duration is the client's choice.
func (r *routeSeries) observe(code string, took time.Duration) {
	c, ok := r.codes.Load(code)
	if !ok {
		c, _ = r.codes.LoadOrStore(code, &codeSeries{
			total:    r.m.total.WithLabelValues(r.api, r.method, code),
			duration: r.m.duration.WithLabelValues(r.api, r.method, code),
		})
	}
	cs := c.(*codeSeries)
	cs.total.Inc()
	if !r.stream {
		cs.duration.Observe(took.Seconds())
	}
}

// instrumentHTTP wraps the handler of route pattern of the face api.
func (m *requestMetrics) instrumentHTTP(api, pattern string, h http.Handler) http.Handler {
	rs := m.route(api, pattern, isStreamRoute(pattern))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rs.inFlight.Inc()
		defer rs.inFlight.Dec()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rw, r)
		rs.observe(strconv.Itoa(rw.status), time.Since(start))
	})
}

// isStreamRoute reports whether an HTTP route streams for as long as the
// client wants (watches).
func isStreamRoute(pattern string) bool { return strings.Contains(pattern, "/watch") }

// grpcRoute returns the series of the gRPC method full. Only registered
// methods reach the interceptors, so the cache and the labels are bounded.
func (m *requestMetrics) grpcRoute(full string, stream bool) *routeSeries {
	if r, ok := m.grpc.Load(full); ok {
		return r.(*routeSeries)
	}
	api, method := grpcLabels(full)
	r, _ := m.grpc.LoadOrStore(full, m.route(api, method, stream))
	return r.(*routeSeries)
}

// unaryInterceptor counts and times unary gRPC calls.
func (m *requestMetrics) unaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		rs := m.grpcRoute(info.FullMethod, false)
		start := time.Now()
		rs.inFlight.Inc()
		resp, err := handler(ctx, req)
		rs.inFlight.Dec()
		rs.observe(grpcCode(err), time.Since(start))
		return resp, err
	}
}

// streamInterceptor counts gRPC streams when they end.
func (m *requestMetrics) streamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		rs := m.grpcRoute(info.FullMethod, true)
		rs.inFlight.Inc()
		err := handler(srv, ss)
		rs.inFlight.Dec()
		rs.observe(grpcCode(err), 0)
		return err
	}
}

// grpcCode is err's gRPC code name ("OK" for nil).
func grpcCode(err error) string {
	if err == nil {
		return "OK"
	}
	return status.Code(err).String()
}

// grpcAPIs names the faces of the gRPC services by their package.
var grpcAPIs = map[string]string{
	"etcdserverpb":              "etcd",
	"v3electionpb":              "etcd",
	"v3lockpb":                  "etcd",
	"hashicorp.consul.resource": "resource",
	"grpc.health.v1":            "health",
}

// grpcLabels splits "/etcdserverpb.KV/Range" into the face ("etcd") and
// the method ("KV/Range"). Only registered methods reach the interceptors,
// so the labels are bounded.
func grpcLabels(full string) (api, method string) {
	svc, name, _ := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	pkg, short := "", svc
	if i := strings.LastIndexByte(svc, '.'); i >= 0 {
		pkg, short = svc[:i], svc[i+1:]
	}
	api, ok := grpcAPIs[pkg]
	if !ok {
		api = pkg
	}
	return api, short + "/" + name
}

// routeAPI names the face of a built-in HTTP route.
func routeAPI(pattern string) string {
	_, path, _ := strings.Cut(pattern, " ")
	switch {
	case path == "/healthz" || path == "/readyz":
		return "probe"
	case strings.HasPrefix(path, "/v1/kv/"), path == "/v1/txn", strings.HasPrefix(path, "/v1/watch/"):
		return "kv"
	case strings.HasPrefix(path, "/v1/snapshot"):
		return "snapshot"
	case strings.HasPrefix(path, "/v1/auth/"):
		return "auth"
	case strings.HasPrefix(path, "/debug/"):
		return "debug"
	case path == "/metrics":
		return "metrics"
	}
	return "cluster"
}
