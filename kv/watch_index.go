package kv

import "sort"

// watchIndex finds the synced watchers interested in a key without looking
// at the others: watchers of a single key sit in a map by key; range and
// prefix watchers are grouped by identical span, and the groups are kept
// sorted by start with a running maximum of their ends, so a lookup visits
// only groups that start at or before the key and whose ends could reach it.
type watchIndex struct {
	keys   map[string]map[*Watcher]struct{}
	ranges map[span]*rangeGroup
	sorted []*rangeGroup
	reach  []span // reach[i]: the span with the largest end among sorted[:i+1]
	dirty  bool
}

type rangeGroup struct {
	sp span
	ws map[*Watcher]struct{}
}

func newWatchIndex() watchIndex {
	return watchIndex{keys: map[string]map[*Watcher]struct{}{}, ranges: map[span]*rangeGroup{}}
}

func (x *watchIndex) empty() bool { return len(x.keys) == 0 && len(x.ranges) == 0 }

func (x *watchIndex) add(w *Watcher) {
	if w.sp.single {
		set := x.keys[w.sp.start]
		if set == nil {
			set = map[*Watcher]struct{}{}
			x.keys[w.sp.start] = set
		}
		set[w] = struct{}{}
		return
	}
	g := x.ranges[w.sp]
	if g == nil {
		g = &rangeGroup{sp: w.sp, ws: map[*Watcher]struct{}{}}
		x.ranges[w.sp] = g
		x.dirty = true
	}
	g.ws[w] = struct{}{}
}

func (x *watchIndex) remove(w *Watcher) {
	if w.sp.single {
		if set := x.keys[w.sp.start]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(x.keys, w.sp.start)
			}
		}
		return
	}
	if g := x.ranges[w.sp]; g != nil {
		delete(g.ws, w)
		if len(g.ws) == 0 {
			delete(x.ranges, w.sp)
			x.dirty = true
		}
	}
}

// all calls fn for every watcher in the index.
func (x *watchIndex) all(fn func(*Watcher)) {
	for _, set := range x.keys {
		for w := range set {
			fn(w)
		}
	}
	for _, g := range x.ranges {
		for w := range g.ws {
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

// match calls fn for every watcher whose span contains key.
func (x *watchIndex) match(key string, fn func(*Watcher)) {
	for w := range x.keys[key] {
		fn(w)
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
			for w := range g.ws {
				fn(w)
			}
		}
	}
}
