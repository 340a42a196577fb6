package resourceapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-db/concord/resource"
)

// metrics are the API's own series; the store's counts by type are the
// face's (agent/face_resource.go).
type metrics struct {
	requests    *prometheus.CounterVec
	watchers    prometheus.Gauge
	watchEvents *prometheus.CounterVec
	// eventsByKind are watchEvents' counters, resolved once: a member
	// with 1,000 watchers counts 1,000 sends per write.
	eventsByKind map[resource.EventKind]prometheus.Counter
	// okByOp are requests' counters for code "ok", resolved once: every
	// request counts one, and WithLabelValues hashes its labels each time.
	okByOp map[string]prometheus.Counter
}

// apiOps are the op labels of requests.
var apiOps = []string{"read", "write", "write_status", "list", "list_by_owner", "delete", "watch", "mutate_and_validate"}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_resource_requests_total",
			Help: "Resource API requests (gRPC and REST) by operation and outcome code.",
		}, []string{"op", "code"}),
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "concord_resource_watchers",
			Help: "Open resource list watches (gRPC and REST).",
		}),
		watchEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_resource_watch_events_total",
			Help: "Events sent to resource list watchers, by kind.",
		}, []string{"kind"}),
	}
	m.eventsByKind = make(map[resource.EventKind]prometheus.Counter, len(eventTypes))
	for kind, name := range eventTypes {
		m.eventsByKind[kind] = m.watchEvents.WithLabelValues(name)
	}
	m.okByOp = make(map[string]prometheus.Counter, len(apiOps))
	for _, op := range apiOps {
		m.okByOp[op] = m.requests.WithLabelValues(op, "ok")
	}
	return m
}

// eventSent counts one event of kind sent to a watcher.
func (m *metrics) eventSent(kind resource.EventKind) {
	if c, ok := m.eventsByKind[kind]; ok {
		c.Inc()
		return
	}
	m.watchEvents.WithLabelValues(kind.String()).Inc()
}

// Describe implements prometheus.Collector.
func (a *API) Describe(ch chan<- *prometheus.Desc) {
	a.m.requests.Describe(ch)
	a.m.watchers.Describe(ch)
	a.m.watchEvents.Describe(ch)
}

// Collect implements prometheus.Collector.
func (a *API) Collect(ch chan<- prometheus.Metric) {
	a.m.requests.Collect(ch)
	a.m.watchers.Collect(ch)
	a.m.watchEvents.Collect(ch)
}

// observe counts one request of op ending with err.
func (a *API) observe(op string, err error) {
	if err != nil {
		a.m.requests.WithLabelValues(op, classify(err).code).Inc()
		return
	}
	if c, ok := a.m.okByOp[op]; ok {
		c.Inc()
		return
	}
	a.m.requests.WithLabelValues(op, "ok").Inc()
}
