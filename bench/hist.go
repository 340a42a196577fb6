package bench

import (
	"maps"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms record latencies in microseconds, from 1µs to 10 minutes, to
// three significant digits.
const (
	histMin    = 1
	histMax    = int64(10 * time.Minute / time.Microsecond)
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// recorder collects one worker's (or one group of watchers') results.
// The mutex is uncontended except when the progress line samples it.
type recorder struct {
	mu        sync.Mutex
	hist      *hdrhistogram.Histogram
	errs      map[string]int64
	conflicts int64 // txn-cas compares that did not hold
}

func newRecorder() *recorder { return &recorder{hist: newHist(), errs: map[string]int64{}} }

// record adds one operation's outcome.
func (r *recorder) record(d time.Duration, err error) {
	r.mu.Lock()
	if err != nil {
		r.errs[errorKind(err)]++
	} else {
		r.hist.RecordValue(clampMicros(d))
	}
	r.mu.Unlock()
}

func (r *recorder) conflict() {
	r.mu.Lock()
	r.conflicts++
	r.mu.Unlock()
}

func clampMicros(d time.Duration) int64 {
	us := d.Microseconds()
	if us < histMin {
		return histMin
	}
	return min(us, histMax)
}

// totals is the merge of several recorders.
type totals struct {
	hist      *hdrhistogram.Histogram
	errs      map[string]int64
	conflicts int64
}

func (t totals) errorCount() int64 {
	var n int64
	for _, c := range t.errs {
		n += c
	}
	return n
}

// merge sums the recorders into fresh totals; it leaves them usable.
func merge(recs []*recorder) totals {
	t := totals{hist: newHist(), errs: map[string]int64{}}
	for _, r := range recs {
		r.mu.Lock()
		t.hist.Merge(r.hist)
		for k, v := range r.errs {
			t.errs[k] += v
		}
		t.conflicts += r.conflicts
		r.mu.Unlock()
	}
	return t
}

// summarize turns a histogram into the reported percentiles.
func summarize(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		P50:  ms(h.ValueAtQuantile(50)),
		P90:  ms(h.ValueAtQuantile(90)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
		Mean: h.Mean() / 1000,
	}
}

func cloneErrs(m map[string]int64) map[string]int64 { return maps.Clone(m) }
