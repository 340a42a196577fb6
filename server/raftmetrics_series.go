package server

import (
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// kind is a raftSink series' Prometheus type.
type kind uint8

const (
	kindGauge kind = iota
	kindCounter
	kindSummary
)

// series is one exported gauge, counter or summary of a raftSink.
type series struct {
	kind    kind
	gauge   prometheus.Gauge
	counter prometheus.Counter
	summary prometheus.Summary
	touched atomic.Bool // set by updates, cleared by Collect
	seen    time.Time   // creation, or the last Collect that found it touched; guarded by raftSink.mu
	expired bool        // guarded by raftSink.mu
}

// newSeries builds the series as PrometheusSink would: help is the name,
// labels are constant labels, summaries keep 10s with PrometheusSink's
// objectives.
func newSeries(k kind, name string, labels []gometrics.Label, now time.Time) *series {
	constLabels := make(prometheus.Labels, len(labels))
	for _, l := range labels {
		constLabels[l.Name] = l.Value
	}
	m := &series{kind: k, seen: now}
	switch k {
	case kindGauge:
		m.gauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: name, ConstLabels: constLabels})
	case kindCounter:
		m.counter = prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name, ConstLabels: constLabels})
	case kindSummary:
		m.summary = prometheus.NewSummary(prometheus.SummaryOpts{
			Name: name, Help: name, ConstLabels: constLabels,
			MaxAge:     10 * time.Second,
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		})
	}
	return m
}

func (m *series) apply(v float64) {
	switch m.kind {
	case kindGauge:
		m.gauge.Set(v)
	case kindCounter:
		m.counter.Add(v)
	case kindSummary:
		m.summary.Observe(v)
	}
}

// touch marks m updated, writing only if it is not already marked so that
// concurrent updates don't contend on the cache line.
func (m *series) touch() {
	if !m.touched.Load() {
		m.touched.Store(true)
	}
}

func (m *series) collector() prometheus.Collector {
	switch m.kind {
	case kindGauge:
		return m.gauge
	case kindCounter:
		return m.counter
	}
	return m.summary
}

// seriesID is a series' identity: its kind and PrometheusSink's hash key
// (flattened name and labels), so keys that flatten alike share a series.
type seriesID struct {
	kind kind
	id   string
}

// seriesIndex finds a series by the hash of its kind, key and labels as
// go-metrics passed them. It is copied on write, so readers take no lock.
type seriesIndex map[uint64][]*seriesKey

// seriesKey is one spelling of a series' key and labels.
type seriesKey struct {
	kind   kind
	key    []string
	labels []gometrics.Label
	s      *series
}

func (x *seriesIndex) find(h uint64, k kind, key []string, labels []gometrics.Label) *series {
	for _, e := range (*x)[h] {
		if e.kind == k && slices.Equal(e.key, key) && slices.Equal(e.labels, labels) {
			return e.s
		}
	}
	return nil
}

// live returns a copy of x without the expired series.
func (x *seriesIndex) live() *seriesIndex {
	next := make(seriesIndex, len(*x))
	for h, keys := range *x {
		keys = slices.DeleteFunc(slices.Clone(keys), func(e *seriesKey) bool { return e.s.expired })
		if len(keys) > 0 {
			next[h] = keys
		}
	}
	return &next
}

// hash hashes k, key and labels without building a string; find verifies a hit.
func (s *raftSink) hash(k kind, key []string, labels []gometrics.Label) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteByte(byte(k))
	for _, p := range key {
		h.WriteString(p)
		h.WriteByte(0)
	}
	for _, l := range labels {
		h.WriteByte(1)
		h.WriteString(l.Name)
		h.WriteByte(0)
		h.WriteString(l.Value)
	}
	return h.Sum64()
}

// create adds the series of key and labels to the index (and to s.series
// unless another spelling of the same name and labels made it) and applies v.
func (s *raftSink) create(h uint64, k kind, key []string, labels []gometrics.Label, v float64) {
	name, id := flattenKey(s.service, key, labels)
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.index.Load()
	if m := idx.find(h, k, key, labels); m != nil { // created since update looked
		m.apply(v)
		m.touch()
		return
	}
	m := s.series[seriesID{k, id}]
	if m == nil {
		m = newSeries(k, name, labels, s.now())
		s.series[seriesID{k, id}] = m
		m.apply(v) // seen is now: no touch
	} else {
		m.apply(v)
		m.touch()
	}
	next := maps.Clone(*idx)
	next[h] = append(slices.Clip(next[h]), &seriesKey{k, slices.Clone(key), slices.Clone(labels), m})
	s.index.Store(&next)
}

// promNameReplacer replaces what PrometheusSink replaces in names.
var promNameReplacer = strings.NewReplacer(" ", "_", ".", "_", "=", "_", "-", "_", "/", "_")

// flattenKey returns the Prometheus name PrometheusSink gives key prefixed
// with service (e.g. concord_raft_commitTime), and its hash key: the name,
// then ";name=value" for each label.
func flattenKey(service string, key []string, labels []gometrics.Label) (name, id string) {
	if service != "" {
		key = append([]string{service}, key...)
	}
	name = promNameReplacer.Replace(strings.Join(key, "_"))
	var b strings.Builder
	b.WriteString(name)
	for _, l := range labels {
		b.WriteString(";" + l.Name + "=" + l.Value)
	}
	return name, b.String()
}
