package resourceapi

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/concord-db/concord/resource"
)

// Events sent to watchers are counted by kind through counters resolved
// once; a kind without one still counts, under its name.
func TestEventSentCountsByKind(t *testing.T) {
	m := newMetrics()
	m.eventSent(resource.Upsert)
	m.eventSent(resource.Upsert)
	m.eventSent(resource.Delete)
	m.eventSent(resource.EndOfSnapshot)
	m.eventSent(resource.EventKind(99))
	for kind, want := range map[string]float64{"upsert": 2, "delete": 1, "end_of_snapshot": 1, resource.EventKind(99).String(): 1} {
		var pb dto.Metric
		if err := m.watchEvents.WithLabelValues(kind).Write(&pb); err != nil {
			t.Fatal(err)
		}
		if got := pb.GetCounter().GetValue(); got != want {
			t.Errorf("concord_resource_watch_events_total{kind=%q} = %v, want %v", kind, got, want)
		}
	}
}
