package node_test

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/concord-db/concord/internal/testcluster"
)

type answer struct {
	cmd  string
	data []byte
}

// TestForwardManyConcurrent sends many commands through one follower at
// once: they share the follower's forward stream and go to the leader in
// batches, the leader puts them into the log several per entry, yet every
// caller gets its own command's answer, and every node applies each command
// exactly once.
func TestForwardManyConcurrent(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	leader := c.WaitLeader(t, electTimeout)
	f := others(c.LiveIDs(), leader)[0]
	const n = 300
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []answer
		last    uint64
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := fmt.Sprintf("cmd-%03d", i)
			res, err := c.Apply(f, cmd)
			if err != nil {
				t.Errorf("%s: %v", cmd, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			results = append(results, answer{cmd, res.Data})
			last = max(last, res.Index)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	c.WaitApplied(t, last)
	for _, id := range c.LiveIDs() {
		for i := range n {
			if got := c.SM(id).Count(fmt.Sprintf("cmd-%03d", i)); got != 1 {
				t.Errorf("%s applied cmd-%03d %d times, want 1", id, i, got)
			}
		}
	}
	// LogSM answers each command with its position in the applied sequence:
	// each caller must have got the answer to its own command.
	cmds := c.SM(leader).Commands()
	for _, r := range results {
		pos, _ := binary.Uvarint(r.data)
		if pos == 0 || pos > uint64(len(cmds)) || cmds[pos-1] != r.cmd {
			t.Errorf("%s was answered with position %d", r.cmd, pos)
		}
	}
	if got := c.SM(leader).MaxBatch(); got < 2 {
		t.Errorf("the leader never put two commands into one entry (largest batch %d)", got)
	}
}
