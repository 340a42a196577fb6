package resource_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/internal/testcluster"
	"github.com/concord-db/concord/resource"
)

// The model: each album is a register holding (version, tag), where tag
// names the write that stored it (carried in its metadata). A read returns
// it; a CAS write with the current version stores a new one, any other
// version fails. A write whose outcome is unknown may or may not have
// happened.
type linState struct{ version, tag string }

type linInput struct {
	key      string
	read     bool
	expected string // writes
	tag      string // writes
}

type linOutput struct {
	version, tag string // read result, or the version a write stored
	casFailed    bool
	unknown      bool
}

var linModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(linInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{linState{}} },
	Step: func(state, input, output interface{}) []interface{} {
		s, in, out := state.(linState), input.(linInput), output.(linOutput)
		switch {
		case in.read:
			if out.version == s.version && out.tag == s.tag {
				return []interface{}{s}
			}
			return nil
		case out.unknown:
			if s.version != in.expected {
				return []interface{}{s}
			}
			// Applied with a version nobody observed, or not applied.
			return []interface{}{s, linState{version: "unobserved:" + in.tag, tag: in.tag}}
		case out.casFailed:
			if s.version != in.expected {
				return []interface{}{s}
			}
			return nil
		default:
			if s.version == in.expected {
				return []interface{}{linState{version: out.version, tag: in.tag}}
			}
			return nil
		}
	},
}

// TestLinearizable runs CAS writes and strong reads of a few albums from
// clients on every member while a member is isolated, the leader crashes
// and members restart, and checks the history with porcupine. A write
// whose outcome is unknown but whose tag a read later returned did happen,
// with the version that read saw.
func TestLinearizable(t *testing.T) {
	rc := newRCluster(t, resource.Config{}, testcluster.Options{})
	rc.WaitLeader(t, 30*time.Second)
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		mu   sync.Mutex
		hist []porcupine.Operation
		seq  atomic.Uint64
	)
	record := func(client int, in linInput, out linOutput, call int64) {
		ret := now()
		if out.unknown {
			ret = 1 << 62 // may take effect any time after its call
		}
		mu.Lock()
		hist = append(hist, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret})
		mu.Unlock()
	}
	client := func(c int, wg *sync.WaitGroup) {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			ids := rc.LiveIDs()
			id := ids[(c+i)%len(ids)]
			n, s := rc.Running(id), rc.store(id)
			if n == nil {
				continue
			}
			b := resource.NewBackend(s, n)
			key := fmt.Sprintf("k%d", (c+i)%3)
			octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
			call := now()
			cur, err := b.Read(octx, resource.StrongConsistency, albumID(key))
			var in linInput
			switch {
			case errors.Is(err, resource.ErrNotFound):
				record(c, linInput{key: key, read: true}, linOutput{}, call)
				in = linInput{key: key, tag: fmt.Sprintf("t%d", seq.Add(1))}
			case err == nil:
				record(c, linInput{key: key, read: true}, linOutput{version: cur.Version, tag: cur.Metadata["tag"]}, call)
				in = linInput{key: key, expected: cur.Version, tag: fmt.Sprintf("t%d", seq.Add(1))}
			default:
				ocancel()
				continue // a failed read has no effect
			}
			res := &pbresource.Resource{Id: albumID(key), Metadata: map[string]string{"tag": in.tag}, Version: in.expected}
			if cur != nil {
				res.Id = cur.Id
			}
			call = now()
			out, err := b.WriteCAS(octx, res)
			ocancel()
			switch {
			case err == nil:
				record(c, in, linOutput{version: out.Version}, call)
			case errors.Is(err, resource.ErrCASFailure):
				record(c, in, linOutput{casFailed: true}, call)
			default:
				record(c, in, linOutput{unknown: true}, call)
			}
		}
	}
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Add(1)
		go client(c, &wg)
	}

	pause := func() { time.Sleep(700 * time.Millisecond) }
	pause()
	leader := rc.WaitLeader(t, 30*time.Second)
	rc.Isolate(leader)
	pause()
	rc.Heal()
	leader = rc.WaitLeader(t, 30*time.Second)
	rc.crash(leader)
	pause()
	rc.Restart(leader)
	pause()
	for _, id := range rc.IDs() {
		if id != rc.Leader() {
			rc.crash(id)
			pause()
			rc.Restart(id)
			break
		}
	}
	pause()
	cancel()
	wg.Wait()

	// Resolve unknown writes that a read observed.
	seen := map[string]string{}
	for _, op := range hist {
		if in := op.Input.(linInput); in.read {
			if out := op.Output.(linOutput); out.tag != "" {
				seen[out.tag] = out.version
			}
		}
	}
	unknown, resolved, ok := 0, 0, 0
	for i, op := range hist {
		in, out := op.Input.(linInput), op.Output.(linOutput)
		switch {
		case in.read:
		case out.unknown:
			unknown++
			if v, found := seen[in.tag]; found {
				resolved++
				hist[i].Output = linOutput{version: v}
			}
		case !out.casFailed:
			ok++
		}
	}
	t.Logf("%d operations, %d successful writes, %d unknown outcomes (%d observed)", len(hist), ok, unknown, resolved)
	if ok < 20 {
		t.Fatalf("only %d writes succeeded", ok)
	}
	if res := porcupine.CheckOperationsTimeout(linModel.ToModel(), hist, time.Minute); res != porcupine.Ok {
		t.Fatalf("history of %d operations is not linearizable: %s", len(hist), res)
	}
}
