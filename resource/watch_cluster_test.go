package resource_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/resource"
)

var (
	albums  = resource.UnversionedType{Group: "demo", Kind: "Album"}
	tenancy = &pbresource.Tenancy{Partition: "default", Namespace: "default"}
)

func albumID(name string) *pbresource.ID {
	return &pbresource.ID{Type: &pbresource.Type{Group: "demo", GroupVersion: "v1", Kind: "Album"}, Tenancy: tenancy, Name: name}
}

// crash crashes member id and closes its store, as a client sees its
// connection to a dead member break.
func (rc *rcluster) crash(id string) {
	rc.Crash(id)
	rc.store(id).Close()
}

// writeLoop writes, updates and deletes albums through every live member
// until ctx ends, ignoring failures (faults make some fail).
func (rc *rcluster) writeLoop(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; ctx.Err() == nil; i++ {
		ids := rc.LiveIDs()
		n := rc.Running(ids[i%len(ids)])
		s := rc.store(ids[i%len(ids)])
		if n == nil || s == nil {
			continue
		}
		b := resource.NewBackend(s, n)
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		id := albumID(fmt.Sprintf("a%d", i%7))
		cur, err := b.Read(wctx, resource.EventualConsistency, id)
		switch {
		case errors.Is(err, resource.ErrNotFound):
			_, _ = b.WriteCAS(wctx, &pbresource.Resource{Id: id, Metadata: map[string]string{"i": strconv.Itoa(i)}})
		case err == nil && i%5 == 0:
			_ = b.DeleteCAS(wctx, cur.Id, cur.Version)
		case err == nil:
			cur.Metadata = map[string]string{"i": strconv.Itoa(i)}
			_, _ = b.WriteCAS(wctx, cur)
		}
		cancel()
	}
}

// eventLog is what a watcher saw after its initial snapshot.
type eventLog struct {
	mu     sync.Mutex
	events []string                        // kind name version, in order
	state  map[string]*pbresource.Resource // name -> resource
	last   uint64
}

func (l *eventLog) add(t *testing.T, ev resource.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ev.Kind == resource.EndOfSnapshot {
		return
	}
	if ev.Version <= l.last {
		t.Errorf("event %s %s at %d after %d: out of order or duplicate", ev.Kind, ev.Resource.Id.Name, ev.Version, l.last)
	}
	l.last = ev.Version
	l.events = append(l.events, fmt.Sprintf("%s %s %s@%d", ev.Kind, ev.Resource.Id.Name, ev.Resource.Version, ev.Version))
	if ev.Kind == resource.Delete {
		delete(l.state, ev.Resource.Id.Name)
	} else {
		l.state[ev.Resource.Id.Name] = ev.Resource
	}
}

func (l *eventLog) lastVersion() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// TestWatchResumeUnderFaults runs a reference watch on a member that stays
// up and a resuming watch that follows the members as they crash and the
// leader changes, resuming by version each time: both must see the same
// events, in order, once, and end agreeing with a strong List.
func TestWatchResumeUnderFaults(t *testing.T) {
	rc := newRCluster(t, resource.Config{}, testcluster.Options{})
	leader := rc.WaitLeader(t, 30*time.Second)
	ids := rc.LiveIDs()
	steady := ids[0]
	if steady == leader {
		steady = ids[1]
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ref := &eventLog{state: map[string]*pbresource.Resource{}}
	refWatch, err := rc.backend(steady).WatchList(ctx, albums, tenancy, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			ev, err := refWatch.Next(ctx)
			if err != nil {
				return
			}
			ref.add(t, ev)
		}
	}()

	res := &eventLog{state: map[string]*pbresource.Resource{}}
	resumes := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		from := uint64(0)
		for i := 0; ctx.Err() == nil; i++ {
			// Start away from the steady member, so crashes move the
			// watch, then move on every 10 events anyway.
			live := rc.LiveIDs()
			id := live[(i+1)%len(live)]
			if i == 0 && id == steady {
				id = live[(i+2)%len(live)]
			}
			n, s := rc.Running(id), rc.store(id)
			if n == nil {
				continue
			}
			w, err := resource.NewBackend(s, n).WatchList(ctx, albums, tenancy, "", from)
			if err != nil {
				if !errors.Is(err, resource.ErrWatchClosed) {
					t.Errorf("resume on %s from %d: %v", id, from, err)
				}
				continue
			}
			resumes++
			for got := 0; ; got++ {
				if got == 10 {
					w.Close() // buffered events still come, then ErrWatchClosed
				}
				ev, err := w.Next(ctx)
				if err != nil {
					if !errors.Is(err, resource.ErrWatchClosed) && ctx.Err() == nil {
						t.Errorf("watch on %s: %v", id, err)
					}
					break
				}
				res.add(t, ev)
				from = ev.Version
			}
		}
	}()

	wctx, stopWrites := context.WithCancel(ctx)
	var writers sync.WaitGroup
	writers.Add(2)
	go rc.writeLoop(wctx, &writers)
	go rc.writeLoop(wctx, &writers)

	progress := func(what string) {
		base := ref.lastVersion()
		rc.WaitFor(t, 30*time.Second, func() bool { return ref.lastVersion() >= base+10 }, what)
	}
	progress("writes before the faults")
	for round := 0; round < 2; round++ {
		// Crash every member but the steady one in turn (the leader
		// among them, so leadership moves), and bring it back.
		for _, id := range rc.IDs() {
			if id == steady {
				continue
			}
			rc.crash(id)
			progress("writes with " + id + " down")
			rc.Restart(id)
			rc.WaitLeader(t, 30*time.Second)
			progress("writes after " + id + " restarted")
		}
	}
	stopWrites()
	writers.Wait()

	// Writes whose callers gave up may still commit for a while: settle
	// on a revision that a strong List, both watchers and the store agree
	// on, with nothing applied in between.
	b := rc.backend(steady)
	var (
		list              []*pbresource.Resource
		refEvents, events []string
		state             map[string]*pbresource.Resource
	)
	rc.WaitFor(t, 30*time.Second, func() bool {
		r0 := rc.store(steady).Revision()
		l, err := b.List(ctx, resource.StrongConsistency, albums, tenancy, "")
		if err != nil || rc.store(steady).Revision() != r0 {
			return false
		}
		ref.mu.Lock()
		res.mu.Lock()
		defer ref.mu.Unlock()
		defer res.mu.Unlock()
		if ref.last != r0 || res.last != r0 {
			return false
		}
		list, refEvents, events = l, slices.Clone(ref.events), slices.Clone(res.events)
		state = maps.Clone(res.state)
		return true
	}, "the watchers, the store and a strong List to agree on a revision")
	cancel()
	refWatch.Close()
	wg.Wait()

	if len(refEvents) != len(events) {
		t.Fatalf("reference saw %d events, resumed watch %d (%d resumes)", len(refEvents), len(events), resumes)
	}
	for i := range refEvents {
		if refEvents[i] != events[i] {
			t.Fatalf("event %d: reference %q, resumed %q", i, refEvents[i], events[i])
		}
	}
	if len(list) != len(state) {
		t.Fatalf("strong list has %d albums, the watch state %d", len(list), len(state))
	}
	for _, r := range list {
		if w := state[r.Id.Name]; w == nil || w.Version != r.Version || w.Id.Uid != r.Id.Uid {
			t.Fatalf("strong list has %s@%s, the watch %v", r.Id.Name, r.Version, w)
		}
	}
	t.Logf("%d events, %d resumes, %d albums", len(events), resumes, len(list))
	if resumes < 5 {
		t.Fatalf("the resuming watch resumed only %d times", resumes)
	}
}
