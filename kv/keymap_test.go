package kv

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// kmModel is the reference a keyMap is checked against.
type kmModel map[string]versions

func (m kmModel) clone() kmModel {
	c := make(kmModel, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// checkKeyMap compares m with want: Len, Get of every key and of absent
// ones, a full iteration, and Seeks.
func checkKeyMap(t *testing.T, r *rand.Rand, m *keyMap, want kmModel) {
	t.Helper()
	if m.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", m.Len(), len(want))
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var got []string
	for it := m.Iterator(); !it.Done(); {
		k, vs, _ := it.Next()
		if len(vs) != 1 || vs[0] != want[k][0] {
			t.Fatalf("iterated %q with the wrong value", k)
		}
		got = append(got, k)
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("iteration gave %d keys %v, want %d", len(got), got, len(keys))
	}
	for _, k := range keys {
		if vs, ok := m.Get(k); !ok || vs[0] != want[k][0] {
			t.Fatalf("Get(%q) = %v, %v", k, vs, ok)
		}
	}
	for i := 0; i < 20; i++ {
		k := kmKey(r)
		if _, ok := m.Get(k + "~"); ok {
			t.Fatalf("Get(%q) found an absent key", k+"~")
		}
		it := m.Iterator()
		it.Seek(k)
		j, _ := slices.BinarySearch(keys, k)
		for ; j < len(keys) && j < 40; j++ {
			if gk, _, ok := it.Next(); !ok || gk != keys[j] {
				t.Fatalf("Seek(%q): got %q, want %q", k, gk, keys[j])
			}
		}
		if j == len(keys) && !it.Done() {
			t.Fatalf("Seek(%q): not done at the end", k)
		}
	}
}

func kmKey(r *rand.Rand) string { return fmt.Sprintf("k%04d", r.Intn(3000)) }

// kmOps applies n random sets and deletes to m (persistent or transient)
// and to want, returning the resulting map.
func kmOps(r *rand.Rand, m *keyMap, want kmModel, n int) *keyMap {
	for i := 0; i < n; i++ {
		k := kmKey(r)
		if r.Intn(3) == 0 {
			m = m.Delete(k)
			delete(want, k)
			continue
		}
		vs := versions{&rec{key: k}}
		m = m.Set(k, vs)
		want[k] = vs
	}
	return m
}

// TestKeyMapMatchesModel checks persistent and transient maps against a Go
// map, and that no map is changed by work on maps derived from it: every
// older version and the origin of every transient map keep their contents.
func TestKeyMapMatchesModel(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewSource(seed))
		type version struct {
			m    *keyMap
			want kmModel
		}
		var kept []version
		m, want := newKeyMap(), kmModel{}
		for round := 0; round < 30; round++ {
			n := r.Intn(400)
			if r.Intn(2) == 0 {
				m = kmOps(r, m, want, n)
			} else {
				tm := m.transient()
				if r.Intn(3) == 0 {
					tm.track()
				}
				tm = kmOps(r, tm, want, n)
				tm.freeze()
				m = tm
			}
			kept = append(kept, version{m, want.clone()})
			for _, v := range kept {
				checkKeyMap(t, r, v.m, v.want)
			}
		}
	}
}

// TestKeyMapRollback undoes random work on a transient map, then checks
// the map goes on working.
func TestKeyMapRollback(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	m, want := newKeyMap(), kmModel{}
	m = kmOps(r, m, want, 2000)
	tm := m.transient()
	for i := 0; i < 50; i++ {
		tm.track()
		before := want.clone()
		kmOps(r, tm, want, r.Intn(300))
		if r.Intn(2) == 0 {
			tm.rollback()
			want = before
		}
		checkKeyMap(t, r, tm, want)
	}
	tm.freeze()
	checkKeyMap(t, r, tm, want)
}

// TestKeyMapDeepIterator checks iteration of a tree higher than the
// iterator's path (built by stacking single-child branches on a real one),
// which falls back to finding each leaf from the root.
func TestKeyMapDeepIterator(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	m, want := newKeyMap(), kmModel{}
	m = kmOps(r, m, want, 3000)
	deep := &keyMap{root: m.root, size: m.size}
	for i := 0; i < kmPathMax+2; i++ {
		deep.root = &kmNode{kids: []kmKid{{deep.root.min(), deep.root}}}
	}
	if it := deep.Iterator(); it.depth != -1 {
		t.Fatalf("depth %d: the fallback is not exercised", it.depth)
	}
	checkKeyMap(t, r, deep, want)
}

// TestKeyMapBatchLeavesNoSpareCapacity loads keys through transient maps,
// in ascending order as a bulk load does, and checks that no node keeps
// unused array capacity once frozen: a published node's array is never
// reused, so spare room would be memory lost for good.
func TestKeyMapBatchLeavesNoSpareCapacity(t *testing.T) {
	m := newKeyMap()
	next := 0
	for range 40 {
		tm := m.transient()
		for range 250 {
			tm = tm.Set(fmt.Sprintf("key%07d", next), versions{})
			next++
		}
		tm.freeze()
		m = tm
	}
	var walk func(n *kmNode)
	spare, nodes := 0, 0
	walk = func(n *kmNode) {
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
