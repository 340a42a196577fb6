package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// Latency is a latency distribution, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// WatchStats is the watch workload's event side.
type WatchStats struct {
	Watchers int   `json:"watchers"`
	Events   int64 `json:"events"`
	// Expected is successful measured puts times watchers.
	Expected int64 `json:"expected_events"`
	// Latency is put-to-event: from the put's (intended) send time, carried
	// in its value, to the event's arrival at a watcher.
	Latency Latency `json:"event_latency"`
}

// Report is the result of a run.
type Report struct {
	Workload    string   `json:"workload"`
	Endpoints   []string `json:"endpoints"`
	Clients     int      `json:"clients"`
	Conns       int      `json:"conns"`
	ValueSize   int      `json:"value_size"`
	KeySpace    int      `json:"key_space"`
	Consistency string   `json:"consistency,omitempty"`
	ReadRatio   float64  `json:"read_ratio,omitempty"`
	Rate        float64  `json:"rate,omitempty"` // requested; 0: closed loop
	// Seconds is the measured phase's wall time.
	Seconds    float64 `json:"seconds"`
	Ops        int64   `json:"ops"` // successful measured operations
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"ops_per_second"`
	Latency    Latency `json:"latency"`
	// ErrorsByKind counts failed operations by gRPC code and message.
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	// Missed counts open-loop requests that were due before the end of the
	// run but never sent because every worker was busy: a backlog that a
	// latency histogram alone cannot show.
	Missed int64 `json:"missed,omitempty"`
	// Conflicts counts txn-cas compares that did not hold (not errors).
	Conflicts int64       `json:"conflicts,omitempty"`
	Watch     *WatchStats `json:"watch,omitempty"`
	// Interrupted is set when the run was cut short.
	Interrupted bool `json:"interrupted,omitempty"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	what := r.Workload
	switch r.Workload {
	case Get, TxnCAS, SQLQuery:
		what += " (" + r.Consistency + ")"
	case Mixed:
		what += fmt.Sprintf(" (%.0f%% %s gets)", r.ReadRatio*100, r.Consistency)
	}
	p("workload", "%s", what)
	p("endpoints", "%s", strings.Join(r.Endpoints, ","))
	load := fmt.Sprintf("%d clients over %d conns, %d-byte values, key space %d", r.Clients, r.Conns, r.ValueSize, r.KeySpace)
	if r.Rate > 0 {
		load += fmt.Sprintf(", open loop at %g/s", r.Rate)
	} else {
		load += ", closed loop"
	}
	p("load", "%s", load)
	if r.Interrupted {
		p("note", "interrupted: partial results")
	}
	p("duration", "%.2fs", r.Seconds)
	p("ops", "%d ok, %d errors", r.Ops, r.Errors)
	p("throughput", "%.1f ops/s", r.Throughput)
	p("latency", "%s", r.Latency)
	if r.Missed > 0 {
		p("missed", "%d requests due but never sent (the workers could not keep up with --rate)", r.Missed)
	}
	if r.Conflicts > 0 {
		p("conflicts", "%d compare-and-swaps lost a race (not errors)", r.Conflicts)
	}
	if ws := r.Watch; ws != nil {
		p("watchers", "%d", ws.Watchers)
		p("events", "%d received of %d expected", ws.Events, ws.Expected)
		p("put→event", "%s", ws.Latency)
	}
	for _, k := range slices.Sorted(maps.Keys(r.ErrorsByKind)) {
		p("error", "%d × %s", r.ErrorsByKind[k], k)
	}
	return tw.Flush()
}

// String formats the percentiles on one line.
func (l Latency) String() string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)",
		fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99), fmtMS(l.P999), fmtMS(l.Max), fmtMS(l.Mean))
}

// fmtMS formats milliseconds with three significant digits.
func fmtMS(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1fms", ms)
	default:
		return fmt.Sprintf("%.2fms", ms)
	}
}
