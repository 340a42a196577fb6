package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// sqlClient speaks rqlite's HTTP API (server/sqlapi) to the first
// endpoint that answers.
type sqlClient struct {
	endpoints []string
	http      *http.Client
}

// sqlResult is one statement's result in rqlite's JSON, with numbers kept
// exact.
type sqlResult struct {
	Columns      []string `json:"columns"`
	Types        []string `json:"types"`
	Values       [][]any  `json:"values"`
	LastInsertID int64    `json:"last_insert_id"`
	RowsAffected int64    `json:"rows_affected"`
	Error        string   `json:"error"`
	Time         float64  `json:"time"`
}

type sqlResponse struct {
	Results []sqlResult `json:"results"`
	Time    float64     `json:"time"`
}

// call sends body to path with the query string q and returns the raw
// answer of the first endpoint that answers. A non-2xx answer is an error
// with the server's message.
func (c *sqlClient) call(ctx context.Context, method, path string, q url.Values, contentType string, body []byte) ([]byte, error) {
	resp, err := c.open(ctx, method, path, q, contentType, func() io.Reader { return bytes.NewReader(body) })
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return raw, nil
}

// open sends a request, with the body body() gives, to each endpoint in
// turn until one answers, and returns its 2xx answer for the caller to
// read (and close): backups stream through it.
func (c *sqlClient) open(ctx context.Context, method, path string, q url.Values, contentType string, body func() io.Reader) (*http.Response, error) {
	var errs []error
	for _, ep := range c.endpoints {
		u := baseURL(ep) + path
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body())
		if err != nil {
			return nil, usagef("endpoint %q: %v", ep, err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		var eb struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &eb) == nil && eb.Error != "" {
			return nil, fmt.Errorf("%s (HTTP %d from %s)", eb.Error, resp.StatusCode, ep)
		}
		return nil, fmt.Errorf("HTTP %d from %s: %s", resp.StatusCode, ep, strings.TrimSpace(string(raw)))
	}
	return nil, fmt.Errorf("no endpoint answered: %w", errors.Join(errs...))
}

// request runs statements through POST /db/request (reads and writes
// mixed) at level, with timings.
func (c *sqlClient) request(ctx context.Context, level string, stmts ...any) (sqlResponse, error) {
	body, err := json.Marshal(stmts)
	if err != nil {
		return sqlResponse{}, err
	}
	raw, err := c.call(ctx, http.MethodPost, "/db/request", url.Values{"level": {level}, "timings": {""}}, "application/json", body)
	if err != nil {
		return sqlResponse{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var resp sqlResponse
	if err := dec.Decode(&resp); err != nil {
		return sqlResponse{}, fmt.Errorf("unexpected answer: %w", err)
	}
	return resp, nil
}
