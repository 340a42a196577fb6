package node

import (
	"context"
	"sync"
)

// appliedIndex tracks the last index applied to the state machines and wakes
// callers waiting for it to reach an index.
type appliedIndex struct {
	mu      sync.Mutex
	index   uint64
	waiters []appliedWaiter
}

type appliedWaiter struct {
	index uint64
	ch    chan struct{}
}

func (a *appliedIndex) get() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.index
}

// set records index as applied. It may move backwards only on restore.
func (a *appliedIndex) set(index uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.index = index
	kept := a.waiters[:0]
	for _, w := range a.waiters {
		if w.index <= index {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	clear(a.waiters[len(kept):])
	a.waiters = kept
}

// wait blocks until index is applied or ctx ends.
func (a *appliedIndex) wait(ctx context.Context, index uint64) error {
	a.mu.Lock()
	if a.index >= index {
		a.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	a.waiters = append(a.waiters, appliedWaiter{index: index, ch: ch})
	a.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
