package sqldriver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
)

// client sends requests to the cluster's members. It prefers the member
// that answered last and moves on to the next one only when a request
// cannot have had an effect: the connection was refused before anything
// was sent, or the request was a read. A write that was sent and got no
// answer is not sent again (ErrOutcomeUnknown): a member forwards writes
// to the leader, and the node retries them across leader changes without
// applying them twice, but a second copy sent by the client would be a
// second command.
type client struct {
	cfg  Config
	http *http.Client

	mu        sync.Mutex
	preferred int
}

func newClient(cfg Config) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg.TLS
	tr.MaxIdleConnsPerHost = 64
	return &client{cfg: cfg, http: &http.Client{Transport: tr}}
}

// response is a member's JSON answer.
type response struct {
	Results []wireResult `json:"results"`
	ID      string       `json:"id"`
	Error   string       `json:"error"`
}

// wireResult is one statement's result in rqlite's form (values keep
// their JSON numbers exact).
type wireResult struct {
	Columns      []string `json:"columns"`
	Types        []string `json:"types"`
	Values       [][]any  `json:"values"`
	LastInsertID int64    `json:"last_insert_id"`
	RowsAffected int64    `json:"rows_affected"`
	Error        string   `json:"error"`
}

// send runs one request on some member and returns the member it used.
func (c *client) send(ctx context.Context, o op, method, path string, q url.Values, body []byte) (*response, string, error) {
	c.mu.Lock()
	first := c.preferred
	c.mu.Unlock()
	var lastErr error
	for i := range c.cfg.Endpoints {
		idx := (first + i) % len(c.cfg.Endpoints)
		base := c.cfg.Endpoints[idx]
		resp, status, err := c.sendTo(ctx, base, method, path, q, body)
		if err == nil && !(o == opRead && status == http.StatusServiceUnavailable) {
			c.mu.Lock()
			c.preferred = idx
			c.mu.Unlock()
			if status != http.StatusOK {
				return nil, base, statusError(status, resp.Error, o)
			}
			return resp, base, nil
		}
		if err == nil {
			lastErr = statusError(status, resp.Error, o)
			continue
		}
		lastErr = err
		if ctx.Err() != nil || (o != opRead && !notSent(err)) {
			return nil, base, sentError(err, o)
		}
	}
	return nil, "", &Error{Message: fmt.Sprintf("concord: no member could serve the request (last: %v)", lastErr), Kind: ErrUnavailable}
}

// sendTo runs one request on the member at base. A transport failure is
// the error; a member's answer, whatever its status, is not.
func (c *client) sendTo(ctx context.Context, base, method, path string, q url.Values, body []byte) (*response, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	hr, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(hr.Body)
	if err != nil {
		return nil, 0, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var resp response
	if err := dec.Decode(&resp); err != nil {
		if hr.StatusCode == http.StatusOK {
			return nil, 0, fmt.Errorf("concord: %s %s: undecodable answer: %w", method, path, err)
		}
		resp.Error = http.StatusText(hr.StatusCode) + ": " + string(bytes.TrimSpace(b))
	}
	return &resp, hr.StatusCode, nil
}

// notSent reports whether a transport error happened before the request
// could reach the member (the connection was never made).
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// sentError words a transport failure of a request that may have reached
// its member.
func sentError(err error, o op) error {
	switch o {
	case opWrite, opCommit:
		return &Error{Message: "concord: the request was sent but no answer came back: " + err.Error(), Kind: ErrOutcomeUnknown}
	case opTx:
		return &Error{Message: "concord: the member holding the transaction did not answer: " + err.Error(), Kind: ErrTxnLost}
	}
	return err
}

// sendPinned runs a request of a transaction on the member that holds it.
func (c *client) sendPinned(ctx context.Context, o op, base, method, path string, q url.Values, body []byte) (*response, error) {
	resp, status, err := c.sendTo(ctx, base, method, path, q, body)
	if err != nil {
		if notSent(err) {
			return nil, &Error{Message: "concord: the member holding the transaction cannot be reached: " + err.Error(), Kind: ErrTxnLost}
		}
		return nil, sentError(err, o)
	}
	if status != http.StatusOK {
		return nil, statusError(status, resp.Error, o)
	}
	return resp, nil
}
