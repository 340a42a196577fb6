package resourceapi

import (
	"encoding/json"
	"net/http"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/resource"
)

// WatchLine is one line of a REST watch stream (NDJSON). Type is
// "upsert", "delete", "end_of_snapshot" or, as the last line of a stream
// that failed, "error". Version is the store version of the event: resume
// with ?from_version= set to the last one seen.
type WatchLine struct {
	Type     string          `json:"type"`
	Version  uint64          `json:"version,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Error    string          `json:"error,omitempty"`
	Code     string          `json:"code,omitempty"`
}

var eventTypes = map[resource.EventKind]string{
	resource.Upsert: "upsert", resource.Delete: "delete", resource.EndOfSnapshot: "end_of_snapshot",
}

// httpWatch streams a list watch as NDJSON until the client goes away or
// the watch fails. Errors found before the stream starts (bad input, a
// compacted from_version) are ordinary error answers; a failure later is
// an "error" line.
func (a *API) httpWatch(w http.ResponseWriter, r *http.Request, t *pbresource.Type, ten *pbresource.Tenancy, prefix string, from uint64) {
	ctx := r.Context()
	watcher, err := a.watch(ctx, t, ten, prefix, from)
	a.observe("watch", err)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer watcher.Close()
	a.m.watchers.Inc()
	defer a.m.watchers.Dec()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	enc := json.NewEncoder(w)
	for {
		ev, err := watcher.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				to := classify(err)
				enc.Encode(WatchLine{Type: "error", Error: errorMessage(err), Code: to.code})
			}
			return
		}
		line := WatchLine{Type: eventTypes[ev.Kind], Version: ev.Version}
		a.m.watchEvents.WithLabelValues(line.Type).Inc()
		if ev.Resource != nil {
			if line.Resource, err = MarshalResource(ev.Resource); err != nil {
				enc.Encode(WatchLine{Type: "error", Error: err.Error(), Code: CodeInternal})
				return
			}
		}
		if enc.Encode(line) != nil || rc.Flush() != nil {
			return
		}
	}
}
