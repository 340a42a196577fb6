package kv

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// genCmd makes random commands for differential tests: every kind, valid
// and failing (missing leases and keys, duplicate txn keys, future and
// compacted revisions, bad lease grants, undecodable bytes), over a small
// key space so the commands of one batch often touch the same keys.
type genCmd struct {
	r *rand.Rand
}

func (g genCmd) key() string { return fmt.Sprintf("k%02d", g.r.Intn(30)) }

func (g genCmd) end(key string) []byte {
	switch g.r.Intn(4) {
	case 0:
		return []byte{0}
	case 1:
		return nil
	}
	return []byte(g.key())
}

func (g genCmd) lease() int64 {
	if g.r.Intn(3) == 0 {
		return int64(1 + g.r.Intn(5))
	}
	return 0
}

func (g genCmd) put() *pb.PutRequest {
	p := &pb.PutRequest{Key: []byte(g.key()), Value: []byte(fmt.Sprint(g.r.Intn(1000))), Lease: g.lease(), PrevKv: g.r.Intn(2) == 0}
	switch g.r.Intn(12) {
	case 0:
		p.IgnoreValue = true
	case 1:
		p.IgnoreLease = true
	}
	return p
}

func (g genCmd) rangeReq(rev int64) *pb.RangeRequest {
	k := g.key()
	rr := &pb.RangeRequest{Key: []byte(k), RangeEnd: g.end(k), Limit: int64(g.r.Intn(4)), KeysOnly: g.r.Intn(4) == 0}
	if g.r.Intn(3) == 0 {
		rr.Revision = rev - 15 + int64(g.r.Intn(18)) // some compacted, some future
	}
	if g.r.Intn(4) == 0 {
		rr.SortOrder, rr.SortTarget = pb.RangeRequest_DESCEND, pb.RangeRequest_MOD
	}
	return rr
}

func (g genCmd) compare() *pb.Compare {
	targets := []pb.Compare_CompareTarget{pb.Compare_VERSION, pb.Compare_CREATE, pb.Compare_MOD, pb.Compare_VALUE, pb.Compare_LEASE}
	results := []pb.Compare_CompareResult{pb.Compare_EQUAL, pb.Compare_GREATER, pb.Compare_LESS, pb.Compare_NOT_EQUAL}
	c := compareOf(g.key(), targets[g.r.Intn(len(targets))], results[g.r.Intn(len(results))], int64(g.r.Intn(40)), fmt.Sprint(g.r.Intn(1000)))
	if g.r.Intn(4) == 0 {
		c.RangeEnd = []byte{0}
	}
	return c
}

func (g genCmd) ops(rev int64, depth int) []*pb.RequestOp {
	var ops []*pb.RequestOp
	for i := g.r.Intn(4); i > 0; i-- {
		switch n := g.r.Intn(10); {
		case n < 4:
			ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: g.put()}})
		case n < 6:
			k := g.key()
			ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte(k), RangeEnd: g.end(k), PrevKv: g.r.Intn(2) == 0}}})
		case n < 8:
			ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: g.rangeReq(rev)}})
		case n < 9 && depth < 2:
			ops = append(ops, opTxn(g.txn(rev, depth+1)))
		default:
			ops = append(ops, &pb.RequestOp{})
		}
	}
	return ops
}

func (g genCmd) txn(rev int64, depth int) *pb.TxnRequest {
	t := &pb.TxnRequest{Success: g.ops(rev, depth), Failure: g.ops(rev, depth)}
	for i := g.r.Intn(3); i > 0; i-- {
		t.Compare = append(t.Compare, g.compare())
	}
	return t
}

// cmd returns a random command for a store at revision rev.
func (g genCmd) cmd(rev int64) []byte {
	switch n := g.r.Intn(100); {
	case n < 35:
		return EncodePut(g.put())
	case n < 45:
		k := g.key()
		return EncodeDeleteRange(&pb.DeleteRangeRequest{Key: []byte(k), RangeEnd: g.end(k), PrevKv: g.r.Intn(2) == 0})
	case n < 70:
		return EncodeTxn(g.txn(rev, 0))
	case n < 78:
		ttl := int64(g.r.Intn(30))
		if g.r.Intn(20) == 0 {
			ttl = MaxLeaseTTL + 1
		}
		return EncodeLeaseGrant(&pb.LeaseGrantRequest{ID: int64(g.r.Intn(6)), TTL: ttl})
	case n < 84:
		return EncodeLeaseRevoke(&pb.LeaseRevokeRequest{ID: int64(1 + g.r.Intn(5))})
	case n < 88:
		var cps []*pb.LeaseCheckpoint
		for i := g.r.Intn(3); i >= 0; i-- {
			cps = append(cps, &pb.LeaseCheckpoint{ID: int64(1 + g.r.Intn(6)), Remaining_TTL: int64(g.r.Intn(10))})
		}
		return EncodeLeaseCheckpoint(&pb.LeaseCheckpointRequest{Checkpoints: cps})
	case n < 90:
		return EncodeCompact(&pb.CompactionRequest{Revision: rev - int64(g.r.Intn(60)) + 1})
	case n < 96:
		return []byte{1, byte(g.r.Intn(10)), byte(g.r.Intn(256)), byte(g.r.Intn(256))}
	}
	return []byte{byte(g.r.Intn(3)), byte(g.r.Intn(256))}
}

// batchSize returns how many commands the next entry carries.
func batchSize(r *rand.Rand) int {
	switch n := r.Intn(10); {
	case n < 3:
		return 1
	case n < 8:
		return 2 + r.Intn(8)
	}
	return 10 + r.Intn(60)
}

var diffWatches = []WatchRequest{
	{Key: []byte{0}, RangeEnd: []byte{0}},
	{Key: []byte{0}, RangeEnd: []byte{0}, PrevKV: true},
	{Key: []byte("k1"), RangeEnd: []byte("k2"), NoDelete: true},
	{Key: []byte("k05"), PrevKV: true},
	{Key: []byte("k2"), RangeEnd: []byte{0}, NoPut: true, PrevKV: true},
}

// diffStore is one side of a differential test: a store with a lessor,
// channel watchers and queue watchers for every diffWatches entry.
type diffStore struct {
	*testStore
	lessor *Lessor
	ws     []*Watcher
	q      *WatchQueue
	qws    []*Watcher
}

func newDiffStore(t *testing.T) *diffStore {
	l := NewLessor(LessorConfig{})
	d := &diffStore{testStore: newTestStore(t, Options{MinLeaseTTL: 3, WatchBuffer: 1 << 14, Lessor: l}), lessor: l}
	d.q = d.NewWatchQueue()
	for i, req := range diffWatches {
		d.ws = append(d.ws, d.Watch(req))
		d.qws = append(d.qws, d.q.Watch(req, i))
	}
	return d
}

// responses returns every response w was sent, rendered, up to a progress
// notification it asks for.
func (d *diffStore) responses(t *testing.T, w *Watcher) []string {
	t.Helper()
	w.RequestProgress()
	var out []string
	for {
		r := next(t, w)
		if r.IsProgressNotify() {
			return out
		}
		out = append(out, renderResponse(r))
	}
}

// queued returns what the queue holds, rendered, once every queue watcher
// has answered a progress request.
func (d *diffStore) queued(t *testing.T) []string {
	t.Helper()
	for _, w := range d.qws {
		w.RequestProgress()
	}
	var out []string
	progressed := 0
	deadline := time.After(waitFor)
	for progressed < len(d.qws) {
		select {
		case <-d.q.Ready():
		case <-deadline:
			t.Fatal("queue watchers did not answer progress requests")
		}
		for _, it := range d.q.Take(nil) {
			if it.Resp.IsProgressNotify() && !it.Created {
				progressed++
				continue
			}
			out = append(out, fmt.Sprintf("w%v created=%v %s", it.Watcher.Tag(), it.Created, renderResponse(it.Resp)))
		}
	}
	return out
}

func renderResponse(r *WatchResponse) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rev %d cancel %v %q compact %d:", r.Revision, r.Canceled, r.CancelReason, r.CompactRevision)
	for _, e := range r.Events {
		fmt.Fprintf(&b, " %s %s", e.Type, kvsString([]*mvccpb.KeyValue{e.Kv}))
		if e.PrevKv != nil {
			fmt.Fprintf(&b, "prev %s", kvsString([]*mvccpb.KeyValue{e.PrevKv}))
		}
	}
	return b.String()
}

// history renders every key at every retained revision, and the leases.
func history(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	for rev := max(s.CompactRev(), 1); rev <= s.Rev(); rev++ {
		r, err := s.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev})
		if err != nil {
			t.Fatalf("range at %d: %v", rev, err)
		}
		fmt.Fprintf(&b, "@%d count %d: %s\n", rev, r.Count, kvsString(r.Kvs))
	}
	for _, l := range s.Leases() {
		ttl, err := s.LeaseTimeToLive(l.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "lease %+v ttl %d keys %s\n", l, ttl.TTL, keysOfBytes(ttl.Keys))
	}
	h, hrev, crev, err := s.HashKV(0)
	fmt.Fprintf(&b, "hash %x %d %d %v\n", h, hrev, crev, err)
	return b.String()
}

func lessorState(l *Lessor) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]int64, 0, len(l.leases))
	for id := range l.leases {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%d:%d/%d ", id, l.leases[id].ttl, l.leases[id].remaining)
	}
	return b.String()
}

// TestApplyBatchMatchesApply applies the same random commands to one store
// with Apply, one by one, and to another with ApplyBatch in random batches
// (each batch one raft index, as the node applies an entry). Results,
// snapshots after every batch, the final history at every revision,
// leases, the lessor, and every watcher's responses must be identical.
func TestApplyBatchMatchesApply(t *testing.T) {
	for seed := int64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { diffApplyBatch(t, seed, 600) })
	}
}

func diffApplyBatch(t *testing.T, seed int64, n int) {
	seq, bat := newDiffStore(t), newDiffStore(t)
	r := rand.New(rand.NewSource(seed))
	g := genCmd{r: rand.New(rand.NewSource(seed * 7919))}
	index := uint64(0)
	for applied := 0; applied < n; {
		index++
		cmds := make([][]byte, batchSize(r))
		for i := range cmds {
			cmds[i] = g.cmd(seq.Rev())
		}
		applied += len(cmds)
		got := bat.ApplyBatch(index, cmds)
		if len(got) != len(cmds) {
			t.Fatalf("index %d: %d results for %d commands", index, len(got), len(cmds))
		}
		for i, cmd := range cmds {
			want := seq.Apply(index, cmd)
			if !bytes.Equal(got[i], want) {
				_, wm, werr := DecodeResult(want)
				_, gm, gerr := DecodeResult(got[i])
				t.Fatalf("index %d command %d (%s): result differs\n got %v %v\nwant %v %v", index, i, describeCmd(cmd), gm, gerr, wm, werr)
			}
		}
		if !bytes.Equal(persist(t, seq.Store), persist(t, bat.Store)) {
			t.Fatalf("index %d: snapshots differ (rev %d vs %d)", index, seq.Rev(), bat.Rev())
		}
	}
	if seq.CompactRev() == 0 || seq.Rev() < 100 {
		t.Fatalf("weak history: rev %d compacted %d", seq.Rev(), seq.CompactRev())
	}
	if hs, hb := history(t, seq.Store), history(t, bat.Store); hs != hb {
		t.Fatalf("histories differ:\n%s\nvs\n%s", hs, hb)
	}
	if ls, lb := lessorState(seq.lessor), lessorState(bat.lessor); ls != lb {
		t.Fatalf("lessors differ: %s vs %s", ls, lb)
	}
	for i := range diffWatches {
		ws, wb := seq.responses(t, seq.ws[i]), bat.responses(t, bat.ws[i])
		if strings.Join(ws, "\n") != strings.Join(wb, "\n") {
			t.Fatalf("watch %d: %d vs %d responses:\n%s\nvs\n%s", i, len(ws), len(wb), strings.Join(ws, "\n"), strings.Join(wb, "\n"))
		}
		if len(ws) == 0 {
			t.Fatalf("watch %d saw nothing", i)
		}
	}
	if qs, qb := seq.queued(t), bat.queued(t); strings.Join(qs, "\n") != strings.Join(qb, "\n") {
		t.Fatalf("queues differ:\n%s\nvs\n%s", strings.Join(qs, "\n"), strings.Join(qb, "\n"))
	}
}

func describeCmd(cmd []byte) string {
	k, m, err := DecodeCommand(cmd)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%v %v", k, m)
}

// TestApplyBatchEmpty: a batch without commands changes nothing.
func TestApplyBatchEmpty(t *testing.T) {
	s := newTestStore(t, Options{})
	s.put("a", "1")
	before := persist(t, s.Store)
	if res := s.ApplyBatch(99, nil); len(res) != 0 {
		t.Fatalf("results %v", res)
	}
	if !bytes.Equal(before, persist(t, s.Store)) {
		t.Fatal("an empty batch changed the state")
	}
}

// putBatch returns puts of n random keys among space with 256-byte values.
func putBatch(r *rand.Rand, n, space int) [][]byte {
	cmds := make([][]byte, n)
	for i := range cmds {
		cmds[i] = EncodePut(&pb.PutRequest{Key: []byte(benchKey(r.Intn(space))), Value: bytes.Repeat([]byte{byte(r.Intn(256))}, 256)})
	}
	return cmds
}

// TestApplyBatchSnapshotIsolated takes snapshots after batches and after a
// restore, then applies more batches (and single Applys) that rewrite,
// delete and compact the same keys: every snapshot, and every state a
// reader loaded, must still hold exactly what it held when taken.
func TestApplyBatchSnapshotIsolated(t *testing.T) {
	s := newTestStore(t, Options{})
	r := rand.New(rand.NewSource(3))
	type taken struct {
		snap  *Snapshot
		bytes []byte
		st    *state
		keys  string
	}
	var all []taken
	take := func() {
		sn, _ := s.Snapshot()
		var buf bytes.Buffer
		if err := sn.Persist(&buf); err != nil {
			t.Fatal(err)
		}
		all = append(all, taken{sn.(*Snapshot), buf.Bytes(), s.view(), renderKeys(s.view())})
	}
	restored := false
	for round := 0; round < 40; round++ {
		s.idx++
		s.ApplyBatch(s.idx, putBatch(r, 1+r.Intn(100), 500))
		if round%5 == 0 {
			s.do(EncodeDeleteRange(&pb.DeleteRangeRequest{Key: []byte(benchKey(r.Intn(500))), RangeEnd: []byte{0}}))
		}
		if round%7 == 3 {
			s.idx++
			s.ApplyBatch(s.idx, [][]byte{EncodeCompact(&pb.CompactionRequest{Revision: s.Rev() - 50})})
		}
		if round == 20 && !restored {
			if err := s.Restore(bytesReader(all[len(all)-1].bytes)); err != nil {
				t.Fatal(err)
			}
			restored = true
		}
		take()
		for i, tk := range all {
			var buf bytes.Buffer
			if err := tk.snap.Persist(&buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), tk.bytes) {
				t.Fatalf("round %d: snapshot %d changed", round, i)
			}
			if renderKeys(tk.st) != tk.keys {
				t.Fatalf("round %d: the key index of state %d changed", round, i)
			}
		}
	}
}

// renderKeys renders every version in st's key index.
func renderKeys(st *state) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d keys\n", st.keys.Len())
	for it := st.keys.Iterator(); !it.Done(); {
		k, vs, _ := it.Next()
		fmt.Fprintf(&b, "%s:", k)
		for _, v := range vs {
			fmt.Fprintf(&b, " %+v", *v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestApplyBatchConcurrentReads reads, snapshots and hashes while batches
// are applied; under -race it catches a batch writing to a node a
// published state shares. Two reads of one past revision must agree.
func TestApplyBatchConcurrentReads(t *testing.T) {
	s := newTestStore(t, Options{})
	r := rand.New(rand.NewSource(9))
	s.idx++
	s.ApplyBatch(s.idx, putBatch(r, 2000, 2000))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rr := rand.New(rand.NewSource(seed))
			for {
				select {
				case <-stop:
					return
				default:
				}
				req := &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: s.Rev() - rr.Int63n(3)}
				a, err1 := s.Range(req)
				b, err2 := s.Range(req)
				if err1 != nil || err2 != nil || kvsString(a.Kvs) != kvsString(b.Kvs) {
					t.Errorf("reads at %d disagree: %v %v", req.Revision, err1, err2)
					return
				}
				s.HashKV(0)
				sn, _ := s.Snapshot()
				if err := sn.Persist(&bytes.Buffer{}); err != nil {
					t.Error(err)
				}
			}
		}(int64(i))
	}
	for i := 0; i < 200; i++ {
		s.idx++
		s.ApplyBatch(s.idx, putBatch(r, 1+r.Intn(64), 2000))
	}
	close(stop)
	wg.Wait()
}
