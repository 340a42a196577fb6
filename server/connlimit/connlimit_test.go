package connlimit

import (
	"context"
	"sync"
	"testing"
)

func TestAcquireWatch(t *testing.T) {
	ctx := Handler{MaxWatches: 3}.TagConn(context.Background(), nil)
	c := FromContext(ctx)
	if c == nil {
		t.Fatal("TagConn gave no Conn")
	}
	for i := range 3 {
		if !c.AcquireWatch() {
			t.Fatalf("watch %d refused under the cap", i)
		}
	}
	if c.AcquireWatch() {
		t.Fatal("fourth watch allowed by a cap of 3")
	}
	if c.Watches() != 3 {
		t.Fatalf("count %d after a refusal, want 3", c.Watches())
	}
	c.ReleaseWatch()
	if !c.AcquireWatch() {
		t.Fatal("a released place was not given back")
	}
	// No cap; no Conn.
	if !(&Conn{}).AcquireWatch() || !(*Conn)(nil).AcquireWatch() {
		t.Fatal("no cap refused")
	}
	if FromContext(context.Background()) != nil {
		t.Fatal("a Conn without TagConn")
	}
}

// Concurrent acquires never pass the cap.
func TestAcquireWatchConcurrent(t *testing.T) {
	const max = 50
	c := &Conn{maxWatches: max}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.AcquireWatch() {
				mu.Lock()
				got++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got != max || c.Watches() != max {
		t.Fatalf("%d acquired, count %d, want %d", got, c.Watches(), max)
	}
}
