package console

import (
	"compress/gzip"
	"encoding/json"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "concord_http_requests_total", Help: "h"}, []string{"code"})
	reqs.WithLabelValues("200").Add(3)
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "concord_apply_seconds", Help: "h", Buckets: []float64{0.01, 0.1}})
	hist.Observe(0.05)
	hist.Observe(5)
	// A summary without observations has NaN quantiles, which JSON cannot carry.
	sum := prometheus.NewSummary(prometheus.SummaryOpts{Name: "concord_raft_commitTime", Help: "h", Objectives: map[float64]float64{0.5: 0.05}})
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "concord_node_applied_index", Help: "h"})
	gauge.Set(42)
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "someone_elses", Help: "h"})
	reg.MustRegister(reqs, hist, sum, gauge, other)

	w := get(t, newConsole(t, Config{Gatherer: reg}), "/v1/console/metrics")
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	v := decode[MetricsView](t, w)
	if v.TimeMS <= 0 {
		t.Errorf("time_ms %d", v.TimeMS)
	}
	got := map[string]Family{}
	for _, f := range v.Families {
		got[f.Name] = f
	}
	for _, name := range []string{"someone_elses", "go_gc_duration_seconds", "go_memstats_alloc_bytes"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s is served; the console shows concord's series and a few process ones", name)
		}
	}
	if f := got["go_goroutines"]; f.Type != "gauge" || len(f.Metrics) != 1 || f.Metrics[0].Value == nil || *f.Metrics[0].Value < 1 {
		t.Errorf("go_goroutines: %+v", f)
	}
	if f := got["concord_http_requests_total"]; f.Type != "counter" || len(f.Metrics) != 1 ||
		f.Metrics[0].Labels["code"] != "200" || *f.Metrics[0].Value != 3 {
		t.Errorf("counter: %+v", f)
	}
	if f := got["concord_node_applied_index"]; f.Type != "gauge" || *f.Metrics[0].Value != 42 {
		t.Errorf("gauge: %+v", f)
	}
	h := got["concord_apply_seconds"]
	if h.Type != "histogram" || len(h.Metrics) != 1 {
		t.Fatalf("histogram: %+v", h)
	}
	m := h.Metrics[0]
	if *m.Count != 2 || *m.Sum != 5.05 || len(m.Buckets) != 2 || m.Buckets[0] != [2]float64{0.01, 0} || m.Buckets[1] != [2]float64{0.1, 1} {
		t.Errorf("histogram sample: count %v sum %v buckets %v", *m.Count, *m.Sum, m.Buckets)
	}
	s := got["concord_raft_commitTime"]
	if s.Type != "summary" || len(s.Metrics) != 1 || *s.Metrics[0].Count != 0 || len(s.Metrics[0].Quantiles) != 0 {
		t.Errorf("empty summary (NaN quantiles left out): %+v", s)
	}

	// Gzipped for a client that accepts it, the same view.
	z := get(t, newConsole(t, Config{Gatherer: reg}), "/v1/console/metrics", "Accept-Encoding", "gzip, deflate")
	if z.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", z.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(z.Body)
	if err != nil {
		t.Fatal(err)
	}
	var zv MetricsView
	if err := json.NewDecoder(zr).Decode(&zv); err != nil || len(zv.Families) != len(v.Families) {
		t.Errorf("gzipped view: %d families (%v), want %d", len(zv.Families), err, len(v.Families))
	}
}
