package kv

import "sort"

// watchIndex finds the synced watchers interested in a key without looking
// at the others. Watchers are grouped by identical span, since they match
// the same changes: notify matches a change against a group once, however
// many watchers it holds. Single-key groups sit in a map by key; range and
// prefix groups are kept sorted by start with a running maximum of their
// ends, so a lookup visits only groups that start at or before the key and
// whose ends could reach it.
type watchIndex struct {
	keys   map[string]*watchGroup
	ranges map[span]*watchGroup
	sorted []*watchGroup
	reach  []span // reach[i]: the span with the largest end among sorted[:i+1]
	dirty  bool
}

// watchGroup is the synced watchers of one span. A slice rather than a set:
// notify walks it for every matching revision, and each watcher knows its
// position (Watcher.gidx) for O(1) removal.
type watchGroup struct {
	sp      span
	ws      []*Watcher
	pending []int32 // scratch for hub.notify: indexes of the changes in sp
}

func newWatchIndex() watchIndex {
	return watchIndex{keys: map[string]*watchGroup{}, ranges: map[span]*watchGroup{}}
}

func (x *watchIndex) empty() bool { return len(x.keys) == 0 && len(x.ranges) == 0 }

func (x *watchIndex) add(w *Watcher) {
	g := x.group(w.sp)
	if g == nil {
		g = &watchGroup{sp: w.sp}
		if w.sp.single {
			x.keys[w.sp.start] = g
		} else {
			x.ranges[w.sp] = g
			x.dirty = true
		}
	}
	w.gidx = len(g.ws)
	g.ws = append(g.ws, w)
}

func (x *watchIndex) group(sp span) *watchGroup {
	if sp.single {
		return x.keys[sp.start]
	}
	return x.ranges[sp]
}

// remove takes w out of its group by moving the group's last watcher into
// its place. It does nothing if w is not in the index.
func (x *watchIndex) remove(w *Watcher) {
	g := x.group(w.sp)
	if g == nil || w.gidx < 0 || w.gidx >= len(g.ws) || g.ws[w.gidx] != w {
		return
	}
	last := len(g.ws) - 1
	moved := g.ws[last]
	g.ws[w.gidx] = moved
	moved.gidx = w.gidx
	g.ws[last] = nil
	g.ws = g.ws[:last]
	w.gidx = -1
	if len(g.ws) > 0 {
		return
	}
	if w.sp.single {
		delete(x.keys, w.sp.start)
	} else {
		delete(x.ranges, w.sp)
		x.dirty = true
	}
}

// all calls fn for every watcher in the index. fn must not change the index.
func (x *watchIndex) all(fn func(*Watcher)) {
	for _, g := range x.keys {
		for _, w := range g.ws {
			fn(w)
		}
	}
	for _, g := range x.ranges {
		for _, w := range g.ws {
			fn(w)
		}
	}
}

func (x *watchIndex) rebuild() {
	x.sorted = x.sorted[:0]
	for _, g := range x.ranges {
		x.sorted = append(x.sorted, g)
	}
	sort.Slice(x.sorted, func(i, j int) bool { return x.sorted[i].sp.start < x.sorted[j].sp.start })
	x.reach = x.reach[:0]
	for i, g := range x.sorted {
		r := g.sp
		if i > 0 && !endsBeyond(r, x.reach[i-1]) {
			r = x.reach[i-1]
		}
		x.reach = append(x.reach, r)
	}
	x.dirty = false
}

// endsBeyond reports whether a's end is after b's end.
func endsBeyond(a, b span) bool {
	switch {
	case b.open:
		return false
	case a.open:
		return true
	}
	return a.end > b.end
}

// match calls fn for every group whose span contains key.
func (x *watchIndex) match(key string, fn func(*watchGroup)) {
	if g := x.keys[key]; g != nil {
		fn(g)
	}
	if len(x.ranges) == 0 {
		return
	}
	if x.dirty {
		x.rebuild()
	}
	i := sort.Search(len(x.sorted), func(i int) bool { return x.sorted[i].sp.start > key }) - 1
	for ; i >= 0 && x.reach[i].endsAfter(key); i-- {
		if g := x.sorted[i]; g.sp.contains(key) {
			fn(g)
		}
	}
}
