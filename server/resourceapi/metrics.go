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
}

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
	code := "ok"
	if err != nil {
		code = classify(err).code
	}
	a.m.requests.WithLabelValues(op, code).Inc()
}
