package btree

import (
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"testing"
)

// model is the reference a Map is checked against. Values are pointers,
// so a lookup that returns another key's value is caught.
type model map[string]*int

// check compares m with want: Len, Get of every key and of absent ones, a
// full iteration, and Seeks (on an iterator and from the map).
func check(t *testing.T, r *rand.Rand, m *Map[*int], want model) {
	t.Helper()
	if m.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", m.Len(), len(want))
	}
	keys := slices.Sorted(maps.Keys(want))
	var got []string
	for it := m.Iterator(); !it.Done(); {
		k, v, _ := it.Next()
		if v != want[k] {
			t.Fatalf("iterated %q with the wrong value", k)
		}
		got = append(got, k)
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("iteration gave %d keys %v, want %d", len(got), got, len(keys))
	}
	for _, k := range keys {
		if v, ok := m.Get(k); !ok || v != want[k] {
			t.Fatalf("Get(%q) = %v, %v", k, v, ok)
		}
	}
	for i := 0; i < 20; i++ {
		k := randKey(r)
		if _, ok := m.Get(k + "~"); ok {
			t.Fatalf("Get(%q) found an absent key", k+"~")
		}
		it := m.Iterator()
		it.Seek(k)
		from := m.Seek(k)
		j, _ := slices.BinarySearch(keys, k)
		for ; j < len(keys) && j < 40; j++ {
			if gk, _, ok := it.Next(); !ok || gk != keys[j] {
				t.Fatalf("Seek(%q): got %q, want %q", k, gk, keys[j])
			}
			if gk, _, ok := from.Next(); !ok || gk != keys[j] {
				t.Fatalf("Map.Seek(%q): got %q, want %q", k, gk, keys[j])
			}
		}
		if j == len(keys) && (!it.Done() || !from.Done()) {
			t.Fatalf("Seek(%q): not done at the end", k)
		}
	}
}

func randKey(r *rand.Rand) string { return fmt.Sprintf("k%04d", r.Intn(3000)) }

// randomOps applies n random sets and deletes to m (persistent or
// transient) and to want, returning the resulting map.
func randomOps(r *rand.Rand, m *Map[*int], want model, n int) *Map[*int] {
	for i := 0; i < n; i++ {
		k := randKey(r)
		if r.Intn(3) == 0 {
			m = m.Delete(k)
			delete(want, k)
			continue
		}
		v := new(int)
		m = m.Set(k, v)
		want[k] = v
	}
	return m
}

// TestMatchesModel checks persistent and transient maps against a Go map,
// and that no map is changed by work on maps derived from it: every older
// version and the origin of every transient map keep their contents.
func TestMatchesModel(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewSource(seed))
		type version struct {
			m    *Map[*int]
			want model
		}
		var kept []version
		m, want := New[*int](), model{}
		for round := 0; round < 30; round++ {
			n := r.Intn(400)
			if r.Intn(2) == 0 {
				m = randomOps(r, m, want, n)
			} else {
				tm := m.Transient()
				if r.Intn(3) == 0 {
					tm.Track()
				}
				tm = randomOps(r, tm, want, n)
				tm.Freeze()
				m = tm
			}
			kept = append(kept, version{m, maps.Clone(want)})
			for _, v := range kept {
				check(t, r, v.m, v.want)
			}
		}
	}
}

// TestRollback undoes random work on a transient map, then checks the map
// goes on working.
func TestRollback(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	m, want := New[*int](), model{}
	m = randomOps(r, m, want, 2000)
	tm := m.Transient()
	for i := 0; i < 50; i++ {
		tm.Track()
		before := maps.Clone(want)
		randomOps(r, tm, want, r.Intn(300))
		if r.Intn(2) == 0 {
			tm.Rollback()
			want = before
		}
		check(t, r, tm, want)
	}
	tm.Freeze()
	check(t, r, tm, want)
}

// TestDeepIterator checks iteration of a tree higher than the iterator's
// path (built by stacking single-child branches on a real one), which
// falls back to finding each leaf from the root.
func TestDeepIterator(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	m, want := New[*int](), model{}
	m = randomOps(r, m, want, 3000)
	deep := &Map[*int]{root: m.root, size: m.size}
	for i := 0; i < pathMax+2; i++ {
		deep.root = &node[*int]{kids: []kid[*int]{{deep.root.min(), deep.root}}}
	}
	if it := deep.Iterator(); it.depth != -1 {
		t.Fatalf("depth %d: the fallback is not exercised", it.depth)
	}
	check(t, r, deep, want)
}

// TestBatchLeavesNoSpareCapacity loads keys through transient maps, in
// ascending order as a bulk load does, and checks that no node keeps
// unused array capacity once frozen: a published node's array is never
// reused, so spare room would be memory lost for good.
func TestBatchLeavesNoSpareCapacity(t *testing.T) {
	m := New[*int]()
	next := 0
	for range 40 {
		tm := m.Transient()
		for range 250 {
			tm = tm.Set(fmt.Sprintf("key%07d", next), nil)
			next++
		}
		tm.Freeze()
		m = tm
	}
	var walk func(n *node[*int])
	spare, nodes := 0, 0
	walk = func(n *node[*int]) {
		nodes++
		spare += cap(n.ents) - len(n.ents) + cap(n.kids) - len(n.kids)
		for _, k := range n.kids {
			walk(k.n)
		}
	}
	walk(m.root)
	if m.Len() != next || spare != 0 {
		t.Fatalf("%d keys (want %d), %d spare slots in %d nodes", m.Len(), next, spare, nodes)
	}
}
