package resourceapi

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzUnmarshalResource feeds the REST and CLI decoder arbitrary bodies:
// it must never panic, fail only with a *RequestError, and what it
// accepts must survive a round trip.
func FuzzUnmarshalResource(f *testing.F) {
	for _, seed := range []string{
		`{"id":{"type":{"group":"demo","groupVersion":"v2","kind":"Artist"},"tenancy":{"partition":"default","namespace":"default"},"name":"korn"},"data":{"name":"Korn"}}`,
		`{"data":{"@type":"type.googleapis.com/x.y.Z","@value":"CgRLb3Ju"}}`,
		`{"data":{"@type":"type.googleapis.com/hashicorp.consul.multicluster.v2.ExportedServices","services":["a"]}}`,
		`{"id":{"type":{"group":"multicluster","groupVersion":"v2","kind":"ExportedServices"}},"data":{"services":["a"]}}`,
		`{"owner":{"uid":"U","name":"o"},"status":{"k":{"observedGeneration":"G","conditions":[{"type":"t"}]}}}`,
		`{"data":null}`, `{}`, `null`, `[]`, `{"data":{"@type":1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := UnmarshalResource(body)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error is not a *RequestError: %T %v", err, err)
			}
			return
		}
		b, err := MarshalResource(res)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", body, err)
		}
		again, err := UnmarshalResource(b)
		if err != nil || !proto.Equal(again, res) {
			t.Fatalf("round trip of %q: %s -> %v, %v", body, b, again, err)
		}
	})
}

// FuzzParseID feeds the owner-id decoder (?owner=, concord resource
// owned) arbitrary text: no panic, only *RequestError failures, and what
// it accepts prints back as it was read.
func FuzzParseID(f *testing.F) {
	for _, seed := range []string{"demo.v2.Artist/default/default/korn/01ARZ3NDEKTSV4RRFFQ69G5FAV", "a.b.C/p/n/x/u", "////", "demo.v2.Artist/default/default/korn/", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error is not a *RequestError: %T %v", err, err)
			}
			return
		}
		if FormatID(id) != s || id.Uid == "" {
			t.Fatalf("ParseID(%q) = %v, prints as %q", s, id, FormatID(id))
		}
	})
}
