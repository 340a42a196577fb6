package bench

import (
	"sync/atomic"
	"time"
)

// schedule hands out the intended send times of an open-loop run: slot i
// is due at start + i/rate, whoever sends it and whenever it is actually
// sent. Latency is measured from the due time, so a worker that is late
// because the server stalled charges the stall to the requests that
// waited for it.
type schedule struct {
	start time.Time
	rate  float64 // slots per second
	next  atomic.Int64
}

func newSchedule(start time.Time, rate float64) *schedule {
	return &schedule{start: start, rate: rate}
}

// at is the due time of slot i.
func (s *schedule) at(i int64) time.Time {
	return s.start.Add(time.Duration(float64(i) * float64(time.Second) / s.rate))
}

// take claims the next slot and returns its due time.
func (s *schedule) take() (int64, time.Time) {
	i := s.next.Add(1) - 1
	return i, s.at(i)
}

// due is the number of slots due by t.
func (s *schedule) due(t time.Time) int64 {
	if t.Before(s.start) {
		return 0
	}
	return int64(t.Sub(s.start).Seconds()*s.rate) + 1
}
