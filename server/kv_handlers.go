package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/concord-db/concord/kv"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// KV is the backend of the REST KV API: etcd's KV service itself, so REST
// and gRPC share one implementation and one semantics, plus watches.
type KV interface {
	pb.KVServer
	Watch(req kv.WatchRequest) *kv.Watcher
	// MaxRequestBytes caps a value or txn body, as for gRPC.
	MaxRequestBytes() int
}

func (s *Server) kvRoutes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"PUT /v1/kv/{key...}":    s.kvPut,
		"GET /v1/kv/{key...}":    s.kvGet,
		"DELETE /v1/kv/{key...}": s.kvDelete,
		"POST /v1/txn":           s.kvTxn,
		"GET /v1/watch/{key...}": s.kvWatch,
	}
}

// query reads a request's query parameters, refusing any not in allowed.
type query struct {
	v   url.Values
	err error
}

func parseQuery(r *http.Request, allowed ...string) *query {
	q := &query{v: r.URL.Query()}
	for name := range q.v {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok {
			q.err = badRequest(fmt.Sprintf("unknown query parameter %q", name))
		}
	}
	return q
}

func (q *query) has(name string) bool { _, ok := q.v[name]; return ok }

// flag reads a boolean parameter: present without a value, or true/false.
func (q *query) flag(name string) bool {
	if !q.has(name) {
		return false
	}
	s := q.v.Get(name)
	if s == "" {
		return true
	}
	b, err := strconv.ParseBool(s)
	if err != nil && q.err == nil {
		q.err = badRequest(fmt.Sprintf("query parameter %s=%q is not a boolean", name, s))
	}
	return b
}

func (q *query) int(name string) int64 {
	s := q.v.Get(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if (err != nil || n < 0) && q.err == nil {
		q.err = badRequest(fmt.Sprintf("query parameter %s=%q is not a non-negative integer", name, s))
	}
	return n
}

// keyRange returns the key and range end a request names: the path's key,
// widened by ?prefix or ?range_end (or ?from_key) as etcdctl does.
func (q *query) keyRange(key string) ([]byte, []byte) {
	k := []byte(key)
	switch {
	case q.flag("prefix"):
		if len(k) == 0 {
			return []byte{0}, []byte{0}
		}
		return k, prefixEnd(k)
	case q.has("range_end"):
		return k, []byte(q.v.Get("range_end"))
	case q.flag("from_key"):
		return k, []byte{0}
	}
	if len(k) == 0 && q.err == nil {
		q.err = badRequest("a key is required (or ?prefix for all keys)")
	}
	return k, nil
}

// prefixEnd is the end of the range of keys starting with prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0} // all 0xff: every key from prefix on
}

func (s *Server) kvBackend(w http.ResponseWriter, r *http.Request) (KV, bool) {
	if s.cfg.KV == nil {
		s.fail(w, r, &apiError{http.StatusNotFound, CodeNotFound, "this server has no key-value store"})
		return nil, false
	}
	return s.cfg.KV, true
}

func (s *Server) kvGet(w http.ResponseWriter, r *http.Request) {
	store, ok := s.kvBackend(w, r)
	if !ok {
		return
	}
	q := parseQuery(r, "prefix", "range_end", "from_key", "consistency", "revision", "limit", "keys_only", "count_only", "encoding")
	key, end := q.keyRange(r.PathValue("key"))
	req := &pb.RangeRequest{Key: key, RangeEnd: end, Revision: q.int("revision"), Limit: q.int("limit"),
		KeysOnly: q.flag("keys_only"), CountOnly: q.flag("count_only")}
	req.Serializable = q.consistency()
	forceBase64 := q.encoding()
	if q.err != nil {
		s.fail(w, r, q.err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	resp, err := store.Range(ctx, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setRevision(w, resp.Header)
	if end != nil {
		writeJSON(w, http.StatusOK, RangeResult{Revision: resp.Header.Revision, Count: resp.Count, More: resp.More, KVs: toKeyValues(resp.Kvs, forceBase64)})
		return
	}
	if len(resp.Kvs) == 0 {
		s.fail(w, r, &apiError{http.StatusNotFound, CodeKeyNotFound, fmt.Sprintf("key %q not found", key)})
		return
	}
	kv := resp.Kvs[0]
	h := w.Header()
	h.Set("X-Concord-Create-Revision", strconv.FormatInt(kv.CreateRevision, 10))
	h.Set("X-Concord-Mod-Revision", strconv.FormatInt(kv.ModRevision, 10))
	h.Set("X-Concord-Version", strconv.FormatInt(kv.Version, 10))
	h.Set("X-Concord-Lease", strconv.FormatInt(kv.Lease, 10))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(kv.Value)))
	w.WriteHeader(http.StatusOK)
	w.Write(kv.Value)
}

// consistency reads ?consistency: linearizable (default) or serializable.
func (q *query) consistency() (serializable bool) {
	switch c := q.v.Get("consistency"); c {
	case "", "linearizable", "strong":
		return false
	case "serializable", "eventual":
		return true
	default:
		if q.err == nil {
			q.err = badRequest(fmt.Sprintf("consistency %q is not linearizable or serializable", c))
		}
		return false
	}
}

// encoding reads ?encoding: text (default) or base64.
func (q *query) encoding() (forceBase64 bool) {
	switch e := q.v.Get("encoding"); e {
	case "", "text":
		return false
	case "base64":
		return true
	default:
		if q.err == nil {
			q.err = badRequest(fmt.Sprintf("encoding %q is not text or base64", e))
		}
		return false
	}
}

func setRevision(w http.ResponseWriter, h *pb.ResponseHeader) {
	if h != nil {
		w.Header().Set("X-Concord-Revision", strconv.FormatInt(h.Revision, 10))
		w.Header().Set("X-Concord-Raft-Term", strconv.FormatUint(h.RaftTerm, 10))
	}
}

func (s *Server) kvPut(w http.ResponseWriter, r *http.Request) {
	store, ok := s.kvBackend(w, r)
	if !ok {
		return
	}
	q := parseQuery(r, "lease", "prev_mod_revision", "prev_kv", "encoding")
	key := []byte(r.PathValue("key"))
	if len(key) == 0 {
		q.err = badRequest("a key is required")
	}
	put := &pb.PutRequest{Key: key, Lease: q.int("lease"), PrevKv: q.flag("prev_kv")}
	forceBase64 := q.encoding()
	cas := q.has("prev_mod_revision")
	prevMod := q.int("prev_mod_revision")
	if q.err != nil {
		s.fail(w, r, q.err)
		return
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(store.MaxRequestBytes())))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	put.Value = value
	ctx, cancel := s.requestContext(r)
	defer cancel()
	var resp *pb.PutResponse
	if cas {
		resp, err = casPut(ctx, store, put, prevMod)
	} else {
		resp, err = store.Put(ctx, put)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setRevision(w, resp.Header)
	writeJSON(w, http.StatusOK, PutResult{Revision: resp.Header.Revision, PrevKV: optKeyValue(resp.PrevKv, forceBase64)})
}

// casCompare is "the key's mod revision is prevMod" (0: it does not exist).
func casCompare(key []byte, prevMod int64) *pb.Compare {
	return &pb.Compare{Key: key, Target: pb.Compare_MOD, Result: pb.Compare_EQUAL,
		TargetUnion: &pb.Compare_ModRevision{ModRevision: prevMod}}
}

// casPut puts only if the key's mod revision is prevMod, through a txn.
func casPut(ctx context.Context, store KV, put *pb.PutRequest, prevMod int64) (*pb.PutResponse, error) {
	txn, err := store.Txn(ctx, &pb.TxnRequest{
		Compare: []*pb.Compare{casCompare(put.Key, prevMod)},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: put}}},
		Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: put.Key}}}},
	})
	if err != nil {
		return nil, err
	}
	if !txn.Succeeded {
		return nil, casConflict(put.Key, prevMod, txn)
	}
	resp := txn.Responses[0].GetResponsePut()
	resp.Header = txn.Header
	return resp, nil
}

func casConflict(key []byte, prevMod int64, txn *pb.TxnResponse) error {
	var cur int64
	if rr := txn.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
		cur = rr.Kvs[0].ModRevision
	}
	return &apiError{http.StatusConflict, CodeVersionMismatch,
		fmt.Sprintf("key %q has mod_revision %d, not %d", key, cur, prevMod)}
}

func (s *Server) kvDelete(w http.ResponseWriter, r *http.Request) {
	store, ok := s.kvBackend(w, r)
	if !ok {
		return
	}
	q := parseQuery(r, "prefix", "range_end", "from_key", "prev_mod_revision", "prev_kv", "encoding")
	key, end := q.keyRange(r.PathValue("key"))
	del := &pb.DeleteRangeRequest{Key: key, RangeEnd: end, PrevKv: q.flag("prev_kv")}
	forceBase64 := q.encoding()
	cas := q.has("prev_mod_revision")
	prevMod := q.int("prev_mod_revision")
	if cas && end != nil && q.err == nil {
		q.err = badRequest("prev_mod_revision applies to a single key, not a range")
	}
	if q.err != nil {
		s.fail(w, r, q.err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	var (
		resp *pb.DeleteRangeResponse
		err  error
	)
	if cas {
		resp, err = casDelete(ctx, store, del, prevMod)
	} else {
		resp, err = store.DeleteRange(ctx, del)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setRevision(w, resp.Header)
	writeJSON(w, http.StatusOK, DeleteResult{Revision: resp.Header.Revision, Deleted: resp.Deleted, PrevKVs: toKeyValues(resp.PrevKvs, forceBase64)})
}

func casDelete(ctx context.Context, store KV, del *pb.DeleteRangeRequest, prevMod int64) (*pb.DeleteRangeResponse, error) {
	txn, err := store.Txn(ctx, &pb.TxnRequest{
		Compare: []*pb.Compare{casCompare(del.Key, prevMod)},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: del}}},
		Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: del.Key}}}},
	})
	if err != nil {
		return nil, err
	}
	if !txn.Succeeded {
		return nil, casConflict(del.Key, prevMod, txn)
	}
	resp := txn.Responses[0].GetResponseDeleteRange()
	resp.Header = txn.Header
	return resp, nil
}
