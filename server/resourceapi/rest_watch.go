package resourceapi

import (
	"context"
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
	// Each event's line is encoded once for all watchers (fanout.go); a
	// batch of queued events is written with one flush.
	buf := make([]resource.Event, 0, watchBatch)
	for {
		evs, err := nextBatch(ctx, watcher, buf)
		if err != nil {
			switch cause := context.Cause(ctx); {
			case ctx.Err() == nil:
				to := classify(err)
				enc.Encode(WatchLine{Type: "error", Error: errorMessage(err), Code: to.code})
			case cause != context.Canceled && cause != context.DeadlineExceeded:
				// The member is stopping (server.ErrServerStopping):
				// the client resumes on another member.
				enc.Encode(WatchLine{Type: "error", Error: cause.Error(), Code: CodeUnavailable})
			}
			return
		}
		for i := range evs {
			line, err := a.events.get(evs[i], wireREST, marshalWatchLine)
			if err != nil {
				enc.Encode(WatchLine{Type: "error", Error: err.Error(), Code: CodeInternal})
				return
			}
			a.m.eventSent(evs[i].Kind)
			if _, err := w.Write(line); err != nil {
				return
			}
			evs[i] = resource.Event{}
		}
		if rc.Flush() != nil {
			return
		}
		buf = evs
	}
}

// marshalWatchLine is ev's NDJSON line, newline included.
func marshalWatchLine(ev resource.Event) ([]byte, error) {
	line := WatchLine{Type: eventTypes[ev.Kind], Version: ev.Version}
	if ev.Resource != nil {
		var err error
		if line.Resource, err = MarshalResource(ev.Resource); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(line)
	return append(b, '\n'), err
}
