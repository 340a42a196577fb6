package node

import (
	"fmt"
	"testing"
)

func TestTakeBatchBoundsBytes(t *testing.T) {
	item := func(id uint64, size int) forwardItem { return forwardItem{id: id, entry: make([]byte, size)} }
	q := []forwardItem{item(1, 40), item(2, 40), item(3, 40), item(4, 200), item(5, 1)}
	var got [][]uint64
	for len(q) > 0 {
		var ids []uint64
		for _, it := range takeBatch(&q, 100) {
			ids = append(ids, it.id)
		}
		got = append(got, ids)
	}
	want := "[[1 2] [3] [4] [5]]" // an item larger than the bound still goes, alone
	if fmt.Sprint(got) != want {
		t.Fatalf("batches %v, want %s", got, want)
	}
}
