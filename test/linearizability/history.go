package linearizability

import (
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder collects a concurrent history: every operation with its
// invocation and completion time (nanoseconds since the recorder started,
// monotonic), input and output. An operation whose outcome is not known (a
// write that timed out, lost its connection or met an unavailable cluster)
// is recorded with Unknown set: it may have been applied, at any time after
// its invocation, or never.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
	next  int // next logical client id
}

// Op is one recorded operation.
type Op struct {
	Client  int
	Call    int64
	Return  int64 // 0 while pending or when Unknown
	Unknown bool
	Input   any
	Output  any
}

// NewRecorder starts a history.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Now is the recorder's clock.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// NewClient returns a fresh logical client id. A worker takes a new one
// after each operation whose outcome is unknown, so that every logical
// client stays sequential (porcupine's visualization expects that).
func (r *Recorder) NewClient() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	return r.next - 1
}

// Add records a completed (or indeterminate) operation.
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Ops returns a copy of the history so far.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// porcupineOps converts ops accepted by keep into porcupine operations. An
// unknown operation returns after everything else: it may take effect at
// any point after its call, or (placed last) never.
func porcupineOps(ops []Op, keep func(Op) bool) []porcupine.Operation {
	var end int64
	for _, op := range ops {
		end = max(end, op.Call, op.Return)
	}
	var out []porcupine.Operation
	for _, op := range ops {
		if !keep(op) {
			continue
		}
		ret := op.Return
		if op.Unknown {
			ret = end + 1
		}
		out = append(out, porcupine.Operation{ClientId: op.Client, Input: op.Input, Call: op.Call, Output: op.Output, Return: ret})
	}
	return out
}
