package server

import (
	"encoding/base64"
	"fmt"
	"net/http"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TxnRequest is the body of POST /v1/txn: if every compare holds, run
// success, else failure.
type TxnRequest struct {
	Compare []TxnCompare `json:"compare"`
	Success []TxnOp      `json:"success"`
	Failure []TxnOp      `json:"failure"`
}

// TxnCompare compares one key's target with a value. Target is one of
// value, version, create_revision, mod_revision, lease; Result one of
// "=", "!=", "<", ">". Give the operand in the field named like the target
// (value or value_base64 for value).
type TxnCompare struct {
	Key            string  `json:"key,omitempty"`
	KeyBase64      string  `json:"key_base64,omitempty"`
	RangeEnd       string  `json:"range_end,omitempty"`
	Target         string  `json:"target"`
	Result         string  `json:"result"`
	Value          *string `json:"value,omitempty"`
	ValueBase64    *string `json:"value_base64,omitempty"`
	Version        *int64  `json:"version,omitempty"`
	CreateRevision *int64  `json:"create_revision,omitempty"`
	ModRevision    *int64  `json:"mod_revision,omitempty"`
	Lease          *int64  `json:"lease,omitempty"`
}

// TxnOp is one operation: exactly one of Put, Get, Delete.
type TxnOp struct {
	Put    *TxnPut    `json:"put,omitempty"`
	Get    *TxnGet    `json:"get,omitempty"`
	Delete *TxnDelete `json:"delete,omitempty"`
}

// TxnPut writes a key.
type TxnPut struct {
	Key         string  `json:"key,omitempty"`
	KeyBase64   string  `json:"key_base64,omitempty"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 *string `json:"value_base64,omitempty"`
	Lease       int64   `json:"lease,omitempty"`
	PrevKV      bool    `json:"prev_kv,omitempty"`
}

// TxnGet reads a key, a range or a prefix.
type TxnGet struct {
	Key       string `json:"key,omitempty"`
	KeyBase64 string `json:"key_base64,omitempty"`
	RangeEnd  string `json:"range_end,omitempty"`
	Prefix    bool   `json:"prefix,omitempty"`
	Revision  int64  `json:"revision,omitempty"`
	Limit     int64  `json:"limit,omitempty"`
	KeysOnly  bool   `json:"keys_only,omitempty"`
	CountOnly bool   `json:"count_only,omitempty"`
}

// TxnDelete deletes a key, a range or a prefix.
type TxnDelete struct {
	Key       string `json:"key,omitempty"`
	KeyBase64 string `json:"key_base64,omitempty"`
	RangeEnd  string `json:"range_end,omitempty"`
	Prefix    bool   `json:"prefix,omitempty"`
	PrevKV    bool   `json:"prev_kv,omitempty"`
}

// TxnResult is the response of POST /v1/txn.
type TxnResult struct {
	Succeeded bool            `json:"succeeded"`
	Revision  int64           `json:"revision"`
	Responses []TxnOpResponse `json:"responses"`
}

// TxnOpResponse is the result of one operation, in the op's order.
type TxnOpResponse struct {
	Put    *PutResult    `json:"put,omitempty"`
	Get    *RangeResult  `json:"get,omitempty"`
	Delete *DeleteResult `json:"delete,omitempty"`
}

func (s *Server) kvTxn(w http.ResponseWriter, r *http.Request) {
	store, ok := s.kvBackend(w, r)
	if !ok {
		return
	}
	q := parseQuery(r, "encoding")
	forceBase64 := q.encoding()
	if q.err != nil {
		s.fail(w, r, q.err)
		return
	}
	var body TxnRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, int64(store.MaxRequestBytes())), &body, false); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := body.toPB()
	if err != nil {
		s.fail(w, r, badRequest(err.Error()))
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	resp, err := store.Txn(ctx, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setRevision(w, resp.Header)
	writeJSON(w, http.StatusOK, txnResult(resp, forceBase64))
}

// decodeKey picks the text or base64 form of a key.
func decodeKey(text, b64 string) ([]byte, error) {
	switch {
	case text != "" && b64 != "":
		return nil, fmt.Errorf("give key or key_base64, not both")
	case b64 != "":
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("key_base64: %v", err)
		}
		return k, nil
	case text == "":
		return nil, fmt.Errorf("key is required")
	}
	return []byte(text), nil
}

func decodeValue(text, b64 *string) ([]byte, error) {
	switch {
	case text != nil && b64 != nil:
		return nil, fmt.Errorf("give value or value_base64, not both")
	case b64 != nil:
		v, err := base64.StdEncoding.DecodeString(*b64)
		if err != nil {
			return nil, fmt.Errorf("value_base64: %v", err)
		}
		return v, nil
	case text != nil:
		return []byte(*text), nil
	}
	return nil, nil
}

func (t *TxnRequest) toPB() (*pb.TxnRequest, error) {
	req := &pb.TxnRequest{}
	for i, c := range t.Compare {
		pc, err := c.toPB()
		if err != nil {
			return nil, fmt.Errorf("compare[%d]: %v", i, err)
		}
		req.Compare = append(req.Compare, pc)
	}
	var err error
	if req.Success, err = opsToPB("success", t.Success); err != nil {
		return nil, err
	}
	if req.Failure, err = opsToPB("failure", t.Failure); err != nil {
		return nil, err
	}
	return req, nil
}

var compareResults = map[string]pb.Compare_CompareResult{
	"=": pb.Compare_EQUAL, "==": pb.Compare_EQUAL, "!=": pb.Compare_NOT_EQUAL, "<": pb.Compare_LESS, ">": pb.Compare_GREATER,
}

func (c *TxnCompare) toPB() (*pb.Compare, error) {
	key, err := decodeKey(c.Key, c.KeyBase64)
	if err != nil {
		return nil, err
	}
	res, ok := compareResults[c.Result]
	if !ok {
		return nil, fmt.Errorf("result %q is not one of =, !=, <, >", c.Result)
	}
	pc := &pb.Compare{Key: key, Result: res}
	if c.RangeEnd != "" {
		pc.RangeEnd = []byte(c.RangeEnd)
	}
	operands := 0
	for _, set := range []bool{c.Value != nil || c.ValueBase64 != nil, c.Version != nil, c.CreateRevision != nil, c.ModRevision != nil, c.Lease != nil} {
		if set {
			operands++
		}
	}
	if operands != 1 {
		return nil, fmt.Errorf("give exactly one operand, named like the target")
	}
	missing := fmt.Errorf("target %q needs the %s field", c.Target, c.Target)
	switch c.Target {
	case "value":
		if c.Value == nil && c.ValueBase64 == nil {
			return nil, missing
		}
		v, err := decodeValue(c.Value, c.ValueBase64)
		if err != nil {
			return nil, err
		}
		pc.Target, pc.TargetUnion = pb.Compare_VALUE, &pb.Compare_Value{Value: v}
	case "version":
		if c.Version == nil {
			return nil, missing
		}
		pc.Target, pc.TargetUnion = pb.Compare_VERSION, &pb.Compare_Version{Version: *c.Version}
	case "create_revision":
		if c.CreateRevision == nil {
			return nil, missing
		}
		pc.Target, pc.TargetUnion = pb.Compare_CREATE, &pb.Compare_CreateRevision{CreateRevision: *c.CreateRevision}
	case "mod_revision":
		if c.ModRevision == nil {
			return nil, missing
		}
		pc.Target, pc.TargetUnion = pb.Compare_MOD, &pb.Compare_ModRevision{ModRevision: *c.ModRevision}
	case "lease":
		if c.Lease == nil {
			return nil, missing
		}
		pc.Target, pc.TargetUnion = pb.Compare_LEASE, &pb.Compare_Lease{Lease: *c.Lease}
	default:
		return nil, fmt.Errorf("target %q is not one of value, version, create_revision, mod_revision, lease", c.Target)
	}
	return pc, nil
}

func opsToPB(branch string, ops []TxnOp) ([]*pb.RequestOp, error) {
	var out []*pb.RequestOp
	for i, op := range ops {
		pop, err := op.toPB()
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", branch, i, err)
		}
		out = append(out, pop)
	}
	return out, nil
}

func rangeOf(key []byte, rangeEnd string, prefix bool) ([]byte, error) {
	switch {
	case prefix && rangeEnd != "":
		return nil, fmt.Errorf("give prefix or range_end, not both")
	case prefix:
		return prefixEnd(key), nil
	case rangeEnd != "":
		return []byte(rangeEnd), nil
	}
	return nil, nil
}

func (op *TxnOp) toPB() (*pb.RequestOp, error) {
	n := 0
	for _, set := range []bool{op.Put != nil, op.Get != nil, op.Delete != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("an op has exactly one of put, get, delete")
	}
	switch {
	case op.Put != nil:
		key, err := decodeKey(op.Put.Key, op.Put.KeyBase64)
		if err != nil {
			return nil, err
		}
		val, err := decodeValue(op.Put.Value, op.Put.ValueBase64)
		if err != nil {
			return nil, err
		}
		return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: key, Value: val, Lease: op.Put.Lease, PrevKv: op.Put.PrevKV}}}, nil
	case op.Get != nil:
		g := op.Get
		key, err := decodeKey(g.Key, g.KeyBase64)
		if err != nil {
			return nil, err
		}
		end, err := rangeOf(key, g.RangeEnd, g.Prefix)
		if err != nil {
			return nil, err
		}
		return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: key, RangeEnd: end,
			Revision: g.Revision, Limit: g.Limit, KeysOnly: g.KeysOnly, CountOnly: g.CountOnly}}}, nil
	default:
		d := op.Delete
		key, err := decodeKey(d.Key, d.KeyBase64)
		if err != nil {
			return nil, err
		}
		end, err := rangeOf(key, d.RangeEnd, d.Prefix)
		if err != nil {
			return nil, err
		}
		return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: key, RangeEnd: end, PrevKv: d.PrevKV}}}, nil
	}
}

func txnResult(resp *pb.TxnResponse, forceBase64 bool) TxnResult {
	out := TxnResult{Succeeded: resp.Succeeded, Revision: resp.Header.Revision, Responses: []TxnOpResponse{}}
	for _, r := range resp.Responses {
		var or TxnOpResponse
		switch v := r.Response.(type) {
		case *pb.ResponseOp_ResponsePut:
			or.Put = &PutResult{Revision: resp.Header.Revision, PrevKV: optKeyValue(v.ResponsePut.PrevKv, forceBase64)}
		case *pb.ResponseOp_ResponseRange:
			rr := v.ResponseRange
			or.Get = &RangeResult{Revision: resp.Header.Revision, Count: rr.Count, More: rr.More, KVs: toKeyValues(rr.Kvs, forceBase64)}
		case *pb.ResponseOp_ResponseDeleteRange:
			dr := v.ResponseDeleteRange
			or.Delete = &DeleteResult{Revision: resp.Header.Revision, Deleted: dr.Deleted, PrevKVs: toKeyValues(dr.PrevKvs, forceBase64)}
		}
		out.Responses = append(out.Responses, or)
	}
	return out
}
