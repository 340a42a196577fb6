package kv

import "slices"

// keyMap is the key index: a persistent B+tree from key to the key's
// versions, shaped like benbjohnson/immutable's SortedMap (which it
// replaces) but able to batch writes safely.
//
// A persistent map (the default, and every published one) is never
// modified: Set and Delete return a new map that copies the path to the
// changed leaf and shares everything else.
//
// A transient map, made by transient, belongs to one writer (ApplyBatch).
// Its Set and Delete copy a node only the first time they touch it and
// then modify the copy in place, returning m itself. Each transient map has
// its own owner token, stamped on the nodes it created; only those are ever
// modified in place, so the map it came from and every map frozen earlier
// are unaffected. immutable v0.4.0's SortedMapBuilder cannot do this: it
// starts empty and modifies whatever nodes it reaches.
//
// Reads (Get, Iterator) are safe on a persistent map from any goroutine; an
// iterator over a transient map is invalid once the map is changed.
type keyMap struct {
	root *kmNode
	size int
	own  *kmOwner // non-nil while transient
	// undo, while tracking, records what each Set and Delete replaced, so
	// a failed command can be rolled back (see rollback).
	undo     []kmUndo
	tracking bool
}

// kmOwner identifies one transient map. It has a size so that every token
// has its own address; nodes keep theirs alive, so none is ever reused.
type kmOwner struct{ _ byte }

// kmMax is the most entries or children a node holds; one more splits it.
const kmMax = 32

// kmNode is a leaf (kids nil) or a branch. Every node holds at least one
// entry or child; a branch's kids[i].min is the smallest key under kids[i].
type kmNode struct {
	own  *kmOwner // the transient map that may modify it, or nil
	ents []kmEntry
	kids []kmKid
}

type kmEntry struct {
	key string
	vs  versions
}

type kmKid struct {
	min string
	n   *kmNode
}

type kmUndo struct {
	key string
	vs  versions
	had bool
}

func newKeyMap() *keyMap { return &keyMap{} }

// Len returns the number of keys.
func (m *keyMap) Len() int { return m.size }

// Get returns the versions of key.
func (m *keyMap) Get(key string) (versions, bool) {
	n := m.root
	if n == nil {
		return nil, false
	}
	for n.kids != nil {
		n = n.kids[n.kidIndex(key)].n
	}
	i, ok := n.entIndex(key)
	if !ok {
		return nil, false
	}
	return n.ents[i].vs, true
}

// Set returns a map with key set to vs: a new one if m is persistent, m
// itself if transient.
func (m *keyMap) Set(key string, vs versions) *keyMap {
	out := m.target()
	out.set(key, vs, m.tracking)
	return out
}

// Delete returns a map without key: m itself if key is absent or m is
// transient, else a new one.
func (m *keyMap) Delete(key string) *keyMap {
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
func (m *keyMap) target() *keyMap {
	if m.own != nil {
		return m
	}
	return &keyMap{root: m.root, size: m.size}
}

func (m *keyMap) set(key string, vs versions, track bool) {
	if m.root == nil {
		m.root = &kmNode{own: m.own, ents: []kmEntry{{key, vs}}}
		m.size = 1
		m.record(track, key, nil, false)
		return
	}
	root, split, old, had := m.root.set(key, vs, m.own)
	if split != nil {
		root = &kmNode{own: m.own, kids: []kmKid{{root.min(), root}, {split.min(), split}}}
	}
	m.root = root
	if !had {
		m.size++
	}
	m.record(track, key, old, had)
}

func (m *keyMap) record(track bool, key string, vs versions, had bool) {
	if track {
		m.undo = append(m.undo, kmUndo{key: key, vs: vs, had: had})
	}
}

// transient returns a transient map with m's contents and a fresh owner.
// Nothing done to it changes m.
func (m *keyMap) transient() *keyMap {
	return &keyMap{root: m.root, size: m.size, own: new(kmOwner)}
}

// freeze makes a transient m persistent for good: later changes copy, and
// no node it owned is modified again. Call it before publishing m.
func (m *keyMap) freeze() {
	m.own = nil
	m.undo, m.tracking = nil, false
}

// track starts (or restarts) recording changes for rollback. m must be
// transient.
func (m *keyMap) track() {
	clear(m.undo)
	m.undo = m.undo[:0]
	m.tracking = true
}

// rollback undoes, newest first, every change since track and keeps
// tracking. The contents are restored exactly; the tree's shape may differ.
func (m *keyMap) rollback() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		u := m.undo[i]
		if u.had {
			m.set(u.key, u.vs, false)
		} else if root, _, found := m.root.delete(u.key, m.own); found {
			m.root = root
			m.size--
		}
	}
	m.track()
}

func (n *kmNode) min() string {
	if n.kids != nil {
		return n.kids[0].min
	}
	return n.ents[0].key
}

// kidIndex returns the child that holds key or would: the last one whose
// min is <= key, or the first.
func (n *kmNode) kidIndex(key string) int {
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
func (n *kmNode) entIndex(key string) (int, bool) {
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
func (n *kmNode) writable(own *kmOwner, extra int) *kmNode {
	if own != nil && n.own == own {
		return n
	}
	c := &kmNode{own: own}
	if n.kids != nil {
		c.kids = append(make([]kmKid, 0, len(n.kids)+extra), n.kids...)
	} else {
		c.ents = append(make([]kmEntry, 0, len(n.ents)+extra), n.ents...)
	}
	return c
}

// set sets key in n's subtree. It returns the node replacing n, the node
// split off to its right if n overflowed, and the value replaced.
func (n *kmNode) set(key string, vs versions, own *kmOwner) (nn, split *kmNode, old versions, had bool) {
	if n.kids == nil {
		i, found := n.entIndex(key)
		if found {
			nn = n.writable(own, 0)
			old = nn.ents[i].vs
			nn.ents[i].vs = vs
			return nn, nil, old, true
		}
		nn = n.writable(own, 1)
		nn.ents = insertAt(nn.ents, i, kmEntry{key, vs})
		if len(nn.ents) > kmMax {
			h := len(nn.ents) / 2
			split = &kmNode{own: own, ents: nn.ents[h:]}
			nn.ents = nn.ents[:h:h]
		}
		return nn, split, nil, false
	}
	i := n.kidIndex(key)
	c, cs, old, had := n.kids[i].n.set(key, vs, own)
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
		nn.kids = insertAt(nn.kids, i+1, kmKid{cs.min(), cs})
		if len(nn.kids) > kmMax {
			h := len(nn.kids) / 2
			split = &kmNode{own: own, kids: nn.kids[h:]}
			nn.kids = nn.kids[:h:h]
		}
	}
	return nn, split, old, had
}

// delete removes key from n's subtree. It returns the node replacing n (nil
// if n is left empty) and the value removed.
func (n *kmNode) delete(key string, own *kmOwner) (nn *kmNode, old versions, found bool) {
	if n.kids == nil {
		i, ok := n.entIndex(key)
		if !ok {
			return n, nil, false
		}
		old = n.ents[i].vs
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
		return n, nil, false
	}
	if c == nil && len(n.kids) == 1 {
		return nil, old, true
	}
	nn = n.writable(own, 0)
	if c == nil {
		nn.kids = slices.Delete(nn.kids, i, i+1)
	} else {
		nn.kids[i] = kmKid{c.min(), c}
	}
	return nn, old, true
}

// insertAt inserts v at position i of s. A full s grows to exactly one more
// element, not by append's doubling: a node owned by a batch keeps its array
// once the batch is published, so spare capacity would stay unused for good
// (up to half of the index's memory after a bulk load through ApplyBatch).
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
