package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzDecodeMemberAdd: any body either decodes into a request that passes
// validation and survives a JSON round trip, or is refused with a 4xx.
func FuzzDecodeMemberAdd(f *testing.F) {
	for _, s := range []string{
		`{"id":"n3","peer_addr":"127.0.0.1:4380","client_addr":"127.0.0.1:4379","voter":false}`,
		`{"id":"n3","peer_addr":"[::1]:1"}`, `{}`, `[]`, `null`, ``, `{"id":"a"} x`, `{"id":"\u0000","peer_addr":":"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		req, err := decodeMemberAdd(http.MaxBytesReader(w, nopCloser{bytes.NewReader(body)}, 512))
		if err != nil {
			checkClientError(t, err)
			return
		}
		if req.ID == "" || req.PeerAddr == "" {
			t.Fatalf("accepted an incomplete request %+v from %q", req, body)
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeMemberAdd(bytes.NewReader(b))
		if err != nil || again.ID != req.ID || again.PeerAddr != req.PeerAddr ||
			again.ClientAddr != req.ClientAddr || again.IsVoter() != req.IsVoter() {
			t.Fatalf("round trip of %+v gave %+v, %v", req, again, err)
		}
	})
}

// FuzzDecodeTransfer: the same for the leader transfer body.
func FuzzDecodeTransfer(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"id":"n2"}`, `{"id":""}`, `{"id":null}`, `{"to":"x"}`, `"n2"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		req, err := decodeTransfer(http.MaxBytesReader(w, nopCloser{bytes.NewReader(body)}, 512))
		if err != nil {
			checkClientError(t, err)
			return
		}
		if req.ID != "" && validateID(req.ID) != nil {
			t.Fatalf("accepted invalid id %q", req.ID)
		}
	})
}

func checkClientError(t *testing.T, err error) {
	t.Helper()
	status, code := errorStatus(err)
	if status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
		t.Fatalf("decode error %v maps to %d %s, want 400 or 413", err, status, code)
	}
	var ae *apiError
	var mbe *http.MaxBytesError
	if !errors.As(err, &ae) && !errors.As(err, &mbe) {
		t.Fatalf("decode error %v is not a typed client error", err)
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
