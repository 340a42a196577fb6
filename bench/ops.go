package bench

import (
	"context"
	"encoding/binary"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// keyWidth is the width of a key's zero-padded index: keys sort in index
// order and all have the same length.
const keyWidth = 12

// appendKey appends the key of index i under prefix+sub.
func appendKey(b []byte, prefix, sub string, i int) []byte {
	b = append(b, prefix...)
	b = append(b, sub...)
	var num [20]byte
	d := strconv.AppendInt(num[:0], int64(i), 10)
	for range keyWidth - len(d) {
		b = append(b, '0')
	}
	return append(b, d...)
}

func (r *runner) randKey(w *worker, sub string) string {
	w.key = appendKey(w.key[:0], r.cfg.Prefix, sub, w.rng.IntN(r.cfg.KeySpace))
	return string(w.key)
}

// op sends one request of the workload. due is its intended send time.
func (r *runner) op(ctx context.Context, w *worker, due time.Time) error {
	cfg := r.cfg
	switch cfg.Workload {
	case Put:
		_, err := w.cli.Put(ctx, r.randKey(w, "k/"), w.sval)
		return err
	case Get:
		_, err := w.cli.Get(ctx, r.randKey(w, "k/"), r.readOpts...)
		return err
	case Mixed:
		if w.rng.Float64() < cfg.ReadRatio {
			_, err := w.cli.Get(ctx, r.randKey(w, "k/"), r.readOpts...)
			return err
		}
		_, err := w.cli.Put(ctx, r.randKey(w, "k/"), w.sval)
		return err
	case TxnCAS:
		return r.cas(ctx, w)
	case Watch:
		// The value carries the intended send time for the watchers.
		binary.BigEndian.PutUint64(w.val, uint64(due.UnixNano()))
		_, err := w.cli.Put(ctx, r.randKey(w, "w/"), string(w.val))
		return err
	case LeaseKeepAlive:
		_, err := w.cli.KeepAliveOnce(ctx, w.lease)
		return err
	case Fill:
		return r.fill(ctx, w, cfg.Batch)
	case SQLInsert, SQLTxn, SQLQuery:
		return r.sqlOp(ctx, w)
	case ResourceWrite, ResourceRead, ResourceWatch:
		return r.resourceOp(ctx, w, due)
	}
	panic("unknown workload " + cfg.Workload)
}

// cas reads a key's mod_revision and writes it back only if it did not
// change: the optimistic-concurrency pattern of etcd's STM.
func (r *runner) cas(ctx context.Context, w *worker) error {
	key := r.randKey(w, "k/")
	resp, err := w.cli.Get(ctx, key, r.readOpts...)
	if err != nil {
		return err
	}
	var rev int64
	if len(resp.Kvs) > 0 {
		rev = resp.Kvs[0].ModRevision
	}
	tr, err := w.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpPut(key, w.sval)).
		Commit()
	if err != nil {
		return err
	}
	if !tr.Succeeded {
		w.rec.conflict()
	}
	return nil
}

// fill writes the next batch of the key space in one txn, or returns
// errFillDone when every key has been handed out.
func (r *runner) fill(ctx context.Context, w *worker, batch int) error {
	n := int64(r.cfg.KeySpace)
	first := r.fillNext.Add(int64(batch)) - int64(batch)
	if first >= n {
		return errFillDone
	}
	last := min(first+int64(batch), n)
	ops := make([]clientv3.Op, 0, last-first)
	for i := first; i < last; i++ {
		w.key = appendKey(w.key[:0], r.cfg.Prefix, "k/", int(i))
		ops = append(ops, clientv3.OpPut(string(w.key), w.sval))
	}
	_, err := w.cli.Txn(ctx).Then(ops...).Commit()
	return err
}
