package server

import (
	"hash/maphash"
	"log"
	"sync"
	"sync/atomic"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// raftSink is a go-metrics MetricSink and a prometheus.Collector. For the
// same calls it exports what go-metrics/prometheus.PrometheusSink exports
// (names, help, types, labels, summary objectives, expiry), at a fraction of
// the cost: raft emits several metrics per log entry and per RPC, and
// PrometheusSink builds a string, reads the clock and allocates a map entry
// on every call. Here an update hashes the key in place and finds its series
// in a copy-on-write index: no allocation, no mutex and no clock read of its
// own. Names are built only when a series is first seen.
//
// All methods may be called concurrently.
type raftSink struct {
	service     string        // prepended to every key, as go-metrics' ServiceName would be
	placeholder string        // the name Describe reports, as PrometheusOpts.Name
	expiration  time.Duration // series not updated for this long go at Collect; 0 keeps them
	now         func() time.Time
	seed        maphash.Seed
	index       atomic.Pointer[seriesIndex] // replaced, never modified, under mu

	mu     sync.Mutex           // serialises series creation and Collect
	series map[seriesID]*series // every live series by its flattened identity
}

// newRaftSink returns a sink that prefixes every name with service.
func newRaftSink(service, placeholder string, expiration time.Duration) *raftSink {
	s := &raftSink{
		service:     service,
		placeholder: placeholder,
		expiration:  expiration,
		now:         time.Now,
		seed:        maphash.MakeSeed(),
		series:      make(map[seriesID]*series),
	}
	s.index.Store(&seriesIndex{})
	return s
}

func (s *raftSink) SetGauge(key []string, val float32) {
	s.update(kindGauge, key, nil, float64(val))
}

func (s *raftSink) SetGaugeWithLabels(key []string, val float32, labels []gometrics.Label) {
	s.update(kindGauge, key, labels, float64(val))
}

func (s *raftSink) SetPrecisionGauge(key []string, val float64) {
	s.update(kindGauge, key, nil, val)
}

func (s *raftSink) SetPrecisionGaugeWithLabels(key []string, val float64, labels []gometrics.Label) {
	s.update(kindGauge, key, labels, val)
}

// EmitKey does nothing, as in PrometheusSink: Prometheus has no type for a
// stream of values.
func (s *raftSink) EmitKey([]string, float32) {}

func (s *raftSink) IncrCounter(key []string, val float32) {
	s.IncrCounterWithLabels(key, val, nil)
}

// IncrCounterWithLabels drops negative increments, which would make
// prometheus.Counter panic, and logs them as PrometheusSink does.
func (s *raftSink) IncrCounterWithLabels(key []string, val float32, labels []gometrics.Label) {
	if val < 0 {
		name, _ := flattenKey(s.service, key, labels)
		log.Printf("[ERR] Attempting to increment Prometheus counter %v with value negative value %v", name, val)
		return
	}
	s.update(kindCounter, key, labels, float64(val))
}

func (s *raftSink) AddSample(key []string, val float32) {
	s.update(kindSummary, key, nil, float64(val))
}

func (s *raftSink) AddSampleWithLabels(key []string, val float32, labels []gometrics.Label) {
	s.update(kindSummary, key, labels, float64(val))
}

// update applies v to the series of key and labels, creating it if needed.
func (s *raftSink) update(k kind, key []string, labels []gometrics.Label, v float64) {
	h := s.hash(k, key, labels)
	if m := s.index.Load().find(h, k, key, labels); m != nil {
		m.apply(v)
		m.touch()
		return
	}
	s.create(h, k, key, labels, v)
}

// Describe reports only a placeholder, as PrometheusSink does: series appear
// and expire while the sink is registered.
func (s *raftSink) Describe(ch chan<- *prometheus.Desc) {
	prometheus.NewGauge(prometheus.GaugeOpts{Name: s.placeholder, Help: s.placeholder}).Describe(ch)
}

// Collect exports every series and drops those not updated for expiration.
// Updates set a flag instead of reading the clock, so a series counts as
// updated at the first Collect after its update, and outlives
// PrometheusSink's by up to one scrape interval.
func (s *raftSink) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	expired := false
	for id, m := range s.series {
		if m.touched.Swap(false) {
			m.seen = now
		} else if s.expiration > 0 && now.Sub(m.seen) > s.expiration {
			// An update racing with this loses its value, as with PrometheusSink.
			delete(s.series, id)
			m.expired = true
			expired = true
			continue
		}
		m.collector().Collect(ch)
	}
	if expired {
		s.index.Store(s.index.Load().live())
	}
}
