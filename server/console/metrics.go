package console

import (
	"math"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// MetricsView is the body of GET /v1/console/metrics: this member's
// Prometheus metrics as JSON, for the console's live charts. The page
// turns counters into rates and histograms into quantiles between two
// polls; TimeMS is when the metrics were gathered.
type MetricsView struct {
	TimeMS   int64    `json:"time_ms"`
	Families []Family `json:"families"`
}

// Family is one metric family.
type Family struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"` // counter, gauge, summary, histogram, untyped
	Help    string   `json:"help"`
	Metrics []Sample `json:"metrics"`
}

// Sample is one series of a family. Value is set for counters, gauges and
// untyped series; Count, Sum and Buckets (upper bound, cumulative count;
// +Inf left out: it is Count) for histograms; Count, Sum and Quantiles
// (quantile, value) for summaries. NaN and infinite values, which JSON
// cannot carry, are left out.
type Sample struct {
	Labels    map[string]string `json:"labels,omitempty"`
	Value     *float64          `json:"value,omitempty"`
	Count     *uint64           `json:"count,omitempty"`
	Sum       *float64          `json:"sum,omitempty"`
	Buckets   [][2]float64      `json:"buckets,omitempty"`
	Quantiles [][2]float64      `json:"quantiles,omitempty"`
}

// consoleFamily reports whether the console shows the family: concord's
// own series, and the process's CPU, memory and goroutines.
func consoleFamily(name string) bool {
	switch name {
	case "process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines":
		return true
	}
	return strings.HasPrefix(name, "concord_")
}

func (c *Console) metrics(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	mfs, err := c.cfg.Gatherer.Gather()
	if err != nil && len(mfs) == 0 {
		c.cfg.Logger.Warn("console: gathering metrics failed", "err", err)
		writeError(w, http.StatusInternalServerError, codeInternal, "gathering metrics: "+err.Error())
		return
	}
	view := MetricsView{TimeMS: time.Now().UnixMilli(), Families: []Family{}}
	for _, mf := range mfs {
		if consoleFamily(mf.GetName()) {
			view.Families = append(view.Families, family(mf))
		}
	}
	writeCompressed(w, r, http.StatusOK, view)
}

// family converts a gathered family (sorted by name, as Gather returns).
func family(mf *dto.MetricFamily) Family {
	f := Family{Name: mf.GetName(), Type: strings.ToLower(mf.GetType().String()), Help: mf.GetHelp(), Metrics: []Sample{}}
	for _, m := range mf.GetMetric() {
		s := Sample{}
		if len(m.GetLabel()) > 0 {
			s.Labels = map[string]string{}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			s.Value = finite(m.GetCounter().GetValue())
		case dto.MetricType_GAUGE:
			s.Value = finite(m.GetGauge().GetValue())
		case dto.MetricType_UNTYPED:
			s.Value = finite(m.GetUntyped().GetValue())
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			h := m.GetHistogram()
			n := h.GetSampleCount()
			s.Count, s.Sum = &n, finite(h.GetSampleSum())
			for _, b := range h.GetBucket() {
				if ub := b.GetUpperBound(); !math.IsInf(ub, 0) && !math.IsNaN(ub) {
					s.Buckets = append(s.Buckets, [2]float64{ub, float64(b.GetCumulativeCount())})
				}
			}
		case dto.MetricType_SUMMARY:
			sm := m.GetSummary()
			n := sm.GetSampleCount()
			s.Count, s.Sum = &n, finite(sm.GetSampleSum())
			for _, q := range sm.GetQuantile() {
				if v := q.GetValue(); !math.IsInf(v, 0) && !math.IsNaN(v) {
					s.Quantiles = append(s.Quantiles, [2]float64{q.GetQuantile(), v})
				}
			}
		}
		f.Metrics = append(f.Metrics, s)
	}
	return f
}

// finite returns &v, or nil for NaN and infinities.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
