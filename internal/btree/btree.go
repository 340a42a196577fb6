// Package btree is a persistent B+tree from string keys to values of any
// type, with transient (batch) maps: the ordered index of the kv and
// resource state machines.
//
// A persistent map (the default, and every published one) is never
// modified: Set and Delete return a new map that copies the path to the
// changed leaf and shares everything else, so a published map is an O(1)
// fork that readers use without locks. It is shaped like
// benbjohnson/immutable's SortedMap, which it replaced.
//
// A transient map, made by Transient, belongs to one writer (a state
// machine applying one log entry). Its Set and Delete copy a node only the
// first time they touch it and then modify the copy in place, returning the
// map itself. Each transient map has its own owner token, stamped on the
// nodes it created; only those are ever modified in place, so the map it
// came from and every map frozen earlier are unaffected. immutable v0.4.0's
// SortedMapBuilder cannot do this: it starts empty and modifies whatever
// nodes it reaches.
//
// Reads (Get, Iterator, Seek) are safe on a persistent map from any
// goroutine; an iterator over a transient map is invalid once the map is
// changed.
package btree

import "slices"

// Map is a persistent or transient B+tree from string keys to V.
type Map[V any] struct {
	root *node[V]
	size int
	own  *owner // non-nil while transient
	// undo, while tracking, records what each Set and Delete replaced, so
	// a failed command can be rolled back (see Rollback).
	undo     []undo[V]
	tracking bool
}

// owner identifies one transient map. It has a size so that every token
// has its own address; nodes keep theirs alive, so none is ever reused.
type owner struct{ _ byte }

// maxFanout is the most entries or children a node holds; one more splits
// it.
const maxFanout = 32

// node is a leaf (kids nil) or a branch. Every node holds at least one
// entry or child; a branch's kids[i].min is the smallest key under kids[i].
type node[V any] struct {
	own  *owner // the transient map that may modify it, or nil
	ents []entry[V]
	kids []kid[V]
}

type entry[V any] struct {
	key string
	val V
}

type kid[V any] struct {
	min string
	n   *node[V]
}

type undo[V any] struct {
	key string
	val V
	had bool
}

// New returns an empty persistent map.
func New[V any]() *Map[V] { return &Map[V]{} }

// Len returns the number of keys.
func (m *Map[V]) Len() int { return m.size }

// Get returns the value of key.
func (m *Map[V]) Get(key string) (V, bool) {
	var zero V
	n := m.root
	if n == nil {
		return zero, false
	}
	for n.kids != nil {
		n = n.kids[n.kidIndex(key)].n
	}
	i, ok := n.entIndex(key)
	if !ok {
		return zero, false
	}
	return n.ents[i].val, true
}

// Set returns a map with key set to v: a new one if m is persistent, m
// itself if transient.
func (m *Map[V]) Set(key string, v V) *Map[V] {
	out := m.target()
	out.set(key, v, m.tracking)
	return out
}

// Delete returns a map without key: m itself if key is absent or m is
// transient, else a new one.
func (m *Map[V]) Delete(key string) *Map[V] {
	if m.root == nil {
		return m
	}
	root, old, found := m.root.delete(key, m.own)
	if !found {
		return m
	}
	out := m.target()
	out.root = root
	out.size--
	out.record(m.tracking, key, old, true)
	return out
}

// target is the map a change is made to.
func (m *Map[V]) target() *Map[V] {
	if m.own != nil {
		return m
	}
	return &Map[V]{root: m.root, size: m.size}
}

func (m *Map[V]) set(key string, v V, track bool) {
	if m.root == nil {
		m.root = &node[V]{own: m.own, ents: []entry[V]{{key, v}}}
		m.size = 1
		var zero V
		m.record(track, key, zero, false)
		return
	}
	root, split, old, had := m.root.set(key, v, m.own)
	if split != nil {
		root = &node[V]{own: m.own, kids: []kid[V]{{root.min(), root}, {split.min(), split}}}
	}
	m.root = root
	if !had {
		m.size++
	}
	m.record(track, key, old, had)
}

func (m *Map[V]) record(track bool, key string, v V, had bool) {
	if track {
		m.undo = append(m.undo, undo[V]{key: key, val: v, had: had})
	}
}

// Transient returns a transient map with m's contents and a fresh owner.
// Nothing done to it changes m.
func (m *Map[V]) Transient() *Map[V] {
	return &Map[V]{root: m.root, size: m.size, own: new(owner)}
}

// Freeze makes a transient m persistent for good: later changes copy, and
// no node it owned is modified again. Call it before publishing m.
func (m *Map[V]) Freeze() {
	m.own = nil
	m.undo, m.tracking = nil, false
}

// Track starts (or restarts) recording changes for Rollback. m must be
// transient.
func (m *Map[V]) Track() {
	clear(m.undo)
	m.undo = m.undo[:0]
	m.tracking = true
}

// Rollback undoes, newest first, every change since Track and keeps
// tracking. The contents are restored exactly; the tree's shape may differ.
func (m *Map[V]) Rollback() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		u := m.undo[i]
		if u.had {
			m.set(u.key, u.val, false)
		} else if root, _, found := m.root.delete(u.key, m.own); found {
			m.root = root
			m.size--
		}
	}
	m.Track()
}

func (n *node[V]) min() string {
	if n.kids != nil {
		return n.kids[0].min
	}
	return n.ents[0].key
}

// kidIndex returns the child that holds key or would: the last one whose
// min is <= key, or the first.
func (n *node[V]) kidIndex(key string) int {
	lo, hi := 1, len(n.kids) // find the first i >= 1 with min > key
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if n.kids[h].min <= key {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo - 1
}

// entIndex returns the position of the first entry >= key and whether it
// is key.
func (n *node[V]) entIndex(key string) (int, bool) {
	lo, hi := 0, len(n.ents)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if n.ents[h].key < key {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo, lo < len(n.ents) && n.ents[lo].key == key
}

// writable returns n if own may modify it in place, else a copy owned by
// own with room for extra more entries or children.
func (n *node[V]) writable(own *owner, extra int) *node[V] {
	if own != nil && n.own == own {
		return n
	}
	c := &node[V]{own: own}
	if n.kids != nil {
		c.kids = append(make([]kid[V], 0, len(n.kids)+extra), n.kids...)
	} else {
		c.ents = append(make([]entry[V], 0, len(n.ents)+extra), n.ents...)
	}
	return c
}

// set sets key in n's subtree. It returns the node replacing n, the node
// split off to its right if n overflowed, and the value replaced.
func (n *node[V]) set(key string, v V, own *owner) (nn, split *node[V], old V, had bool) {
	if n.kids == nil {
		i, found := n.entIndex(key)
		if found {
			nn = n.writable(own, 0)
			old = nn.ents[i].val
			nn.ents[i].val = v
			return nn, nil, old, true
		}
		nn = n.writable(own, 1)
		nn.ents = insertAt(nn.ents, i, entry[V]{key, v})
		if len(nn.ents) > maxFanout {
			h := len(nn.ents) / 2
			split = &node[V]{own: own, ents: nn.ents[h:]}
			nn.ents = nn.ents[:h:h]
		}
		return nn, split, old, false
	}
	i := n.kidIndex(key)
	c, cs, old, had := n.kids[i].n.set(key, v, own)
	extra := 0
	if cs != nil {
		extra = 1
	}
	nn = n.writable(own, extra)
	nn.kids[i].n = c
	if key < nn.kids[i].min {
		nn.kids[i].min = key
	}
	if cs != nil {
		nn.kids = insertAt(nn.kids, i+1, kid[V]{cs.min(), cs})
		if len(nn.kids) > maxFanout {
			h := len(nn.kids) / 2
			split = &node[V]{own: own, kids: nn.kids[h:]}
			nn.kids = nn.kids[:h:h]
		}
	}
	return nn, split, old, had
}

// delete removes key from n's subtree. It returns the node replacing n (nil
// if n is left empty) and the value removed.
func (n *node[V]) delete(key string, own *owner) (nn *node[V], old V, found bool) {
	if n.kids == nil {
		i, ok := n.entIndex(key)
		if !ok {
			return n, old, false
		}
		old = n.ents[i].val
		if len(n.ents) == 1 {
			return nil, old, true
		}
		nn = n.writable(own, 0)
		nn.ents = slices.Delete(nn.ents, i, i+1)
		return nn, old, true
	}
	i := n.kidIndex(key)
	c, old, found := n.kids[i].n.delete(key, own)
	if !found {
		return n, old, false
	}
	if c == nil && len(n.kids) == 1 {
		return nil, old, true
	}
	nn = n.writable(own, 0)
	if c == nil {
		nn.kids = slices.Delete(nn.kids, i, i+1)
	} else {
		nn.kids[i] = kid[V]{c.min(), c}
	}
	return nn, old, true
}

// insertAt inserts v at position i of s. A full s grows to exactly one more
// element, not by append's doubling: a node owned by a batch keeps its array
// once the batch is published, so spare capacity would stay unused for good
// (up to half of the index's memory after a bulk load through a transient
// map).
func insertAt[T any](s []T, i int, v T) []T {
	if len(s) < cap(s) {
		return slices.Insert(s, i, v)
	}
	g := make([]T, len(s)+1)
	copy(g, s[:i])
	g[i] = v
	copy(g[i+1:], s[i:])
	return g
}
