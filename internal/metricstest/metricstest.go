// Package metricstest reads Prometheus series for tests: a scrape of a
// /metrics endpoint parsed with expfmt (as Prometheus itself would read it)
// or a registry's Gather, and the value of a series picked by its labels.
package metricstest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are metric families by name.
type Families map[string]*dto.MetricFamily

// Scrape GETs url (a /metrics endpoint) with client (nil: the default) and
// parses the text exposition format.
func Scrape(t testing.TB, client *http.Client, url string) Families {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the scrape of %s: %v", url, err)
	}
	return fams
}

// Gather collects g's families, as a scrape of it would show them.
func Gather(t testing.TB, g prometheus.Gatherer) Families {
	t.Helper()
	list, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	fams := make(Families, len(list))
	for _, f := range list {
		fams[f.GetName()] = f
	}
	return fams
}

// Value sums the series of family name whose labels include every
// name=value pair of labels ("code", "OK", ...): a counter's or gauge's
// value, a histogram's or summary's sample count. ok is false when no
// series matches.
func (fs Families) Value(name string, labels ...string) (v float64, ok bool) {
	f := fs[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Summary != nil:
			v += float64(m.GetSummary().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, ok
}

// Must is Value that fails the test when no series matches.
func (fs Families) Must(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	v, ok := fs.Value(name, labels...)
	if !ok {
		t.Fatalf("no series %s%s", name, Selector(labels))
	}
	return v
}

// Has reports whether a series named name exists. The names a query uses
// for a histogram's parts (name_bucket, name_sum, name_count) count as
// the histogram's, and a summary's (name_sum, name_count) as the summary's.
func (fs Families) Has(name string) bool {
	if _, ok := fs[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if !found {
			continue
		}
		if f := fs[base]; f != nil && (f.GetType() == dto.MetricType_HISTOGRAM || (suffix != "_bucket" && f.GetType() == dto.MetricType_SUMMARY)) {
			return true
		}
	}
	return false
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Selector renders labels as a PromQL selector, for messages.
func Selector(labels []string) string {
	if len(labels) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", labels[i], labels[i+1])
	}
	b.WriteString("}")
	return b.String()
}
