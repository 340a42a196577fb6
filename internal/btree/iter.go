package btree

// Iter iterates a Map in key order. It is a plain value (Seek returns one
// that a scan keeps on the stack) holding the path from the root to its
// leaf.
type Iter[V any] struct {
	root *node[V]
	leaf *node[V] // nil when done
	i    int
	path [pathMax]pos[V] // the branches above leaf and the child taken in each
	// depth is the length of path, or -1 for a tree deeper than path can
	// hold (16^11 keys or more): then each next leaf is found from the root.
	depth int
}

// pathMax bounds the height the iterator tracks; the root splits only
// after its level has gained 16 nodes, so a tree this high needs ~16^11
// inserts.
const pathMax = 12

type pos[V any] struct {
	n *node[V]
	i int
}

// Iterator returns an iterator positioned at the first key.
func (m *Map[V]) Iterator() *Iter[V] {
	it := &Iter[V]{root: m.root}
	it.Seek("")
	return it
}

// Seek returns an iterator positioned at the first key >= key, as a value:
// a read that scans keeps it on its stack.
func (m *Map[V]) Seek(key string) Iter[V] {
	it := Iter[V]{root: m.root}
	it.Seek(key)
	return it
}

// Seek positions the iterator at the first key >= key.
func (it *Iter[V]) Seek(key string) {
	it.leaf, it.i, it.depth = nil, 0, 0
	n := it.root
	if n == nil {
		return
	}
	for n.kids != nil {
		if it.depth == pathMax {
			it.depth = -1
			it.leaf, it.i = seekNode(it.root, key, false)
			return
		}
		i := n.kidIndex(key)
		it.path[it.depth] = pos[V]{n, i}
		it.depth++
		n = n.kids[i].n
	}
	it.leaf = n
	it.i, _ = n.entIndex(key)
	if it.i == len(n.ents) {
		it.nextLeaf()
	}
}

// nextLeaf moves to the first entry of the leaf after the current one.
// Every leaf is at the same depth, so the path never grows here.
func (it *Iter[V]) nextLeaf() {
	if it.depth < 0 {
		it.leaf, it.i = seekNode(it.root, it.leaf.ents[len(it.leaf.ents)-1].key, true)
		return
	}
	it.leaf, it.i = nil, 0
	for it.depth > 0 {
		p := &it.path[it.depth-1]
		p.i++
		if p.i < len(p.n.kids) {
			n := p.n.kids[p.i].n
			for n.kids != nil {
				it.path[it.depth] = pos[V]{n, 0}
				it.depth++
				n = n.kids[0].n
			}
			it.leaf = n
			return
		}
		it.depth--
	}
}

// seekNode returns the leaf and position of the first key in n's subtree
// that is >= key (> key if after), or nil.
func seekNode[V any](n *node[V], key string, after bool) (*node[V], int) {
	if n.kids == nil {
		i, found := n.entIndex(key)
		if found && after {
			i++
		}
		if i < len(n.ents) {
			return n, i
		}
		return nil, 0
	}
	for i := n.kidIndex(key); i < len(n.kids); i++ {
		if l, j := seekNode(n.kids[i].n, key, after); l != nil {
			return l, j
		}
	}
	return nil, 0
}

// Done reports whether the iterator has passed the last key.
func (it *Iter[V]) Done() bool { return it.leaf == nil }

// Next returns the current key and value and moves on; ok is false when
// done.
func (it *Iter[V]) Next() (key string, v V, ok bool) {
	if it.leaf == nil {
		return "", v, false
	}
	e := &it.leaf.ents[it.i]
	it.i++
	if it.i == len(it.leaf.ents) {
		it.nextLeaf()
	}
	return e.key, e.val, true
}
