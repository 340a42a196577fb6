package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors, as served on GET /metrics by default.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serverMetrics are the client port's own metrics.
type serverMetrics struct {
	requests *prometheus.CounterVec // concord_http_requests_total, kept for existing dashboards
	req      *requestMetrics
}

// registerNodeMetrics registers gauges that read the node's status on every
// scrape, and the HTTP request counter.
func registerNodeMetrics(reg prometheus.Registerer, n Node) (*serverMetrics, error) {
	status := cachedStatus(n)
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "concord", Subsystem: "node", Name: name, Help: help}, f)
	}
	m := &serverMetrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "concord", Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests on the client port, by route and status code.",
	}, []string{"route", "code"}), req: newRequestMetrics()}
	cs := append(m.req.collectors(),
		m.requests,
		gauge("term", "Current raft term.", func() float64 { return float64(status().Term) }),
		gauge("commit_index", "Highest log index known to be committed.", func() float64 { return float64(status().CommitIndex) }),
		gauge("applied_index", "Highest log index applied to the state machines.", func() float64 { return float64(status().AppliedIndex) }),
		gauge("last_log_index", "Highest log index in the local log.", func() float64 { return float64(status().LastLogIndex) }),
		gauge("is_leader", "1 if this node is the leader, else 0.", func() float64 { return boolFloat(status().State == "Leader") }),
		gauge("has_leader", "1 if this node knows a leader, else 0.", func() float64 { return boolFloat(status().LeaderID != "") }),
		gauge("disk_full", "1 while the data dir's file system is full (writes refused), else 0.", func() float64 { return boolFloat(status().DiskFull) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "concord", Subsystem: "node", Name: "disk_full_errors_total",
			Help: "Log and stable store writes refused because the data dir's file system was full."},
			func() float64 { return float64(status().DiskFullErrors) }),
		gauge("ready", "1 once the node has caught up with the log, else 0.", func() float64 {
			select {
			case <-n.Ready():
				return 1
			default:
				return 0
			}
		}),
	)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// cachedStatus calls n.Status at most once per scrape (the gauges of one
// scrape are collected within a few milliseconds).
func cachedStatus(n Node) func() statusView {
	var (
		mu   sync.Mutex
		last statusView
		at   time.Time
	)
	return func() statusView {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) > 100*time.Millisecond {
			st := n.Status()
			last = statusView{Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
				LastLogIndex: st.LastLogIndex, State: st.State, LeaderID: st.LeaderID,
				DiskFull: st.DiskFull, DiskFullErrors: st.DiskFullErrors}
			at = time.Now()
		}
		return last
	}
}

type statusView struct {
	Term, CommitIndex, AppliedIndex, LastLogIndex uint64
	State, LeaderID                               string
	DiskFull                                      bool
	DiskFullErrors                                uint64
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// instrument counts and times requests to route, of the face api, by
// status code (requestMetrics), and counts them in
// concord_http_requests_total.
func (m *serverMetrics) instrument(api, route string, h http.Handler) http.Handler {
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rw, r)
		m.requests.WithLabelValues(route, strconv.Itoa(rw.status)).Inc()
	})
	return m.req.instrumentHTTP(api, route, legacy)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// EnableRaftMetrics bridges the metrics hashicorp/raft and raft-wal emit
// through go-metrics (commit and apply latencies, replication, FSM timings,
// ...) into reg, under the "concord_" prefix, e.g. concord_raft_commitTime.
// Series not updated for a minute are dropped. go-metrics keeps one global
// sink per process, so call it once, from main; an embedding program that
// already set up go-metrics should not call it.
func EnableRaftMetrics(reg prometheus.Registerer) error {
	sink := newRaftSink("concord", "concord_raft_sink", time.Minute)
	if err := reg.Register(sink); err != nil {
		return fmt.Errorf("raft metrics: %w", err)
	}
	if _, err := gometrics.NewGlobal(raftMetricsConfig(), sink); err != nil {
		return fmt.Errorf("raft metrics: %w", err)
	}
	return nil
}

// raftMetricsConfig configures go-metrics for a raftSink: no hostname,
// runtime metrics (the Go collector exports them) or service name, as the
// sink adds "concord" itself; go-metrics would copy the key on every call
// to prepend it.
func raftMetricsConfig() *gometrics.Config {
	conf := gometrics.DefaultConfig("")
	conf.EnableHostname = false
	conf.EnableRuntimeMetrics = false
	conf.EnableServiceLabel = false
	return conf
}

// slogPrinter adapts a slog.Logger to promhttp's ErrorLog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.l.Warn("metrics: " + fmt.Sprint(v...)) }
