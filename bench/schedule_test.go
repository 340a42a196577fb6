package bench

import (
	"sync"
	"testing"
	"time"
)

func TestScheduleAt(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, tc := range []struct {
		rate float64
		i    int64
		want time.Duration
	}{
		{1000, 0, 0},
		{1000, 1, time.Millisecond},
		{1000, 1000, time.Second},
		{3, 1, time.Second / 3},
		{3, 3, time.Second},
		{0.5, 2, 4 * time.Second},
	} {
		s := newSchedule(start, tc.rate)
		if got := s.at(tc.i).Sub(start); got != tc.want {
			t.Errorf("rate %g: at(%d) = start+%s, want start+%s", tc.rate, tc.i, got, tc.want)
		}
	}
}

func TestScheduleDue(t *testing.T) {
	start := time.Unix(1000, 0)
	s := newSchedule(start, 100)
	for _, tc := range []struct {
		after time.Duration
		want  int64
	}{
		{-time.Second, 0},
		{0, 1}, // slot 0 is due at start
		{9 * time.Millisecond, 1},
		{10 * time.Millisecond, 2},
		{time.Second - time.Nanosecond, 100},
		{time.Second, 101},
	} {
		if got := s.due(start.Add(tc.after)); got != tc.want {
			t.Errorf("due(start%+v) = %d, want %d", tc.after, got, tc.want)
		}
	}
}

// Concurrent takers get every slot exactly once, and due times never
// depend on who takes a slot or when.
func TestScheduleTakeConcurrent(t *testing.T) {
	start := time.Unix(1000, 0)
	s := newSchedule(start, 250)
	const takers, each = 8, 500
	seen := make([][]int64, takers)
	var wg sync.WaitGroup
	for g := range takers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				i, at := s.take()
				if want := start.Add(time.Duration(i) * 4 * time.Millisecond); !at.Equal(want) {
					t.Errorf("slot %d due %s, want %s", i, at, want)
				}
				seen[g] = append(seen[g], i)
			}
		}()
	}
	wg.Wait()
	got := make([]bool, takers*each)
	for _, slots := range seen {
		for _, i := range slots {
			if got[i] {
				t.Fatalf("slot %d taken twice", i)
			}
			got[i] = true
		}
	}
	for i, ok := range got {
		if !ok {
			t.Fatalf("slot %d never taken", i)
		}
	}
}
