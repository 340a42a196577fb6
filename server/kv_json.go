package server

import (
	"encoding/base64"
	"unicode/utf8"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// The JSON shapes of the REST KV API (see docs/api.md).

// KeyValue is one key's version. Keys and values that are valid UTF-8 are
// given as strings in Key and Value; others (or all, with
// ?encoding=base64) in KeyBase64 and ValueBase64.
type KeyValue struct {
	Key            string  `json:"key,omitempty"`
	KeyBase64      string  `json:"key_base64,omitempty"`
	Value          *string `json:"value,omitempty"`
	ValueBase64    *string `json:"value_base64,omitempty"`
	CreateRevision int64   `json:"create_revision"`
	ModRevision    int64   `json:"mod_revision"`
	Version        int64   `json:"version"`
	Lease          int64   `json:"lease,omitempty"`
}

// RangeResult is the body of a prefix or range GET and of a txn's get.
type RangeResult struct {
	Revision int64      `json:"revision"`
	Count    int64      `json:"count"`
	More     bool       `json:"more"`
	KVs      []KeyValue `json:"kvs"`
}

// PutResult is the body of a PUT and of a txn's put.
type PutResult struct {
	Revision int64     `json:"revision"`
	PrevKV   *KeyValue `json:"prev_kv,omitempty"`
}

// DeleteResult is the body of a DELETE and of a txn's delete.
type DeleteResult struct {
	Revision int64      `json:"revision"`
	Deleted  int64      `json:"deleted"`
	PrevKVs  []KeyValue `json:"prev_kvs,omitempty"`
}

// WatchEvent is one line of a watch stream.
type WatchEvent struct {
	// Created is set on the first line, with the revision the watch
	// starts after when no start_revision was given.
	Created bool `json:"created,omitempty"`
	// Type is "PUT" or "DELETE" on event lines.
	Type   string    `json:"type,omitempty"`
	KV     *KeyValue `json:"kv,omitempty"`
	PrevKV *KeyValue `json:"prev_kv,omitempty"`
	// Revision is the event's revision, or on progress lines the revision
	// up to which every event has been sent.
	Revision int64 `json:"revision"`
	Progress bool  `json:"progress,omitempty"`
	// Canceled ends the stream; Reason says why, and CompactRevision is set
	// when the history needed was compacted (resume from it).
	Canceled        bool   `json:"canceled,omitempty"`
	Reason          string `json:"reason,omitempty"`
	CompactRevision int64  `json:"compact_revision,omitempty"`
}

func toKeyValue(kv *mvccpb.KeyValue, forceBase64 bool) KeyValue {
	out := KeyValue{CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision, Version: kv.Version, Lease: kv.Lease}
	if !forceBase64 && utf8.Valid(kv.Key) {
		out.Key = string(kv.Key)
	} else {
		out.KeyBase64 = base64.StdEncoding.EncodeToString(kv.Key)
	}
	if !forceBase64 && utf8.Valid(kv.Value) {
		v := string(kv.Value)
		out.Value = &v
	} else {
		v := base64.StdEncoding.EncodeToString(kv.Value)
		out.ValueBase64 = &v
	}
	return out
}

func toKeyValues(kvs []*mvccpb.KeyValue, forceBase64 bool) []KeyValue {
	out := make([]KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, toKeyValue(kv, forceBase64))
	}
	return out
}

func optKeyValue(kv *mvccpb.KeyValue, forceBase64 bool) *KeyValue {
	if kv == nil {
		return nil
	}
	v := toKeyValue(kv, forceBase64)
	return &v
}
