package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// MemberAddRequest is the body of POST /v1/members.
type MemberAddRequest struct {
	ID         string `json:"id"`
	PeerAddr   string `json:"peer_addr"`
	ClientAddr string `json:"client_addr,omitempty"`
	// Voter adds a voting member when true or absent, a non-voter (a
	// learner) when false.
	Voter *bool `json:"voter,omitempty"`
}

// IsVoter reports whether the request adds a voter (the default).
func (r MemberAddRequest) IsVoter() bool { return r.Voter == nil || *r.Voter }

// TransferRequest is the optional body of POST /v1/leader/transfer. An empty
// ID lets raft pick the most up-to-date voter.
type TransferRequest struct {
	ID string `json:"id,omitempty"`
}

const maxIDLen = 128

// decodeMemberAdd reads and validates a MemberAddRequest.
func decodeMemberAdd(r io.Reader) (MemberAddRequest, error) {
	var req MemberAddRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return req, err
	}
	if err := validateID(req.ID); err != nil {
		return req, err
	}
	if err := validateHostPort("peer_addr", req.PeerAddr, true); err != nil {
		return req, err
	}
	if err := validateHostPort("client_addr", req.ClientAddr, false); err != nil {
		return req, err
	}
	return req, nil
}

// decodeTransfer reads and validates a TransferRequest; an empty body is
// a request without an ID.
func decodeTransfer(r io.Reader) (TransferRequest, error) {
	var req TransferRequest
	if err := decodeJSON(r, &req, true); err != nil {
		return req, err
	}
	if req.ID != "" {
		if err := validateID(req.ID); err != nil {
			return req, err
		}
	}
	return req, nil
}

// decodeJSON decodes exactly one JSON object into v, refusing unknown
// fields and trailing data. A body cut off by http.MaxBytesReader yields an
// error that wraps *http.MaxBytesError.
func decodeJSON(r io.Reader, v any, emptyOK bool) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return fmt.Errorf("request body exceeds %d bytes: %w", mbe.Limit, err)
		case errors.Is(err, io.EOF):
			if emptyOK {
				return nil
			}
			return badRequest("request body is empty; expected a JSON object")
		}
		return badRequest("invalid JSON body: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("request body exceeds %d bytes: %w", mbe.Limit, err)
		}
		return badRequest("invalid JSON body: unexpected data after the object")
	}
	return nil
}

func validateID(id string) error {
	switch {
	case id == "":
		return badRequest("id is required")
	case len(id) > maxIDLen:
		return badRequest(fmt.Sprintf("id is longer than %d bytes", maxIDLen))
	case strings.ContainsAny(id, "=,/ \t\r\n"):
		return badRequest(fmt.Sprintf("id %q may not contain '=', ',', '/' or whitespace", id))
	}
	return nil
}

func validateHostPort(field, addr string, required bool) error {
	if addr == "" {
		if required {
			return badRequest(field + " is required")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || host == "" || strings.ContainsAny(addr, " \t\r\n") {
		return badRequest(fmt.Sprintf("%s %q is not host:port", field, addr))
	}
	return nil
}
