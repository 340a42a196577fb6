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
	var errs []error
	for _, ep := range c.endpoints {
		u := baseURL(ep) + path
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
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
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s %s: reading the answer: %w", method, ep, err)
		}
		if resp.StatusCode/100 != 2 {
			var eb struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(raw, &eb) == nil && eb.Error != "" {
				return nil, fmt.Errorf("%s (HTTP %d from %s)", eb.Error, resp.StatusCode, ep)
			}
			return nil, fmt.Errorf("HTTP %d from %s: %s", resp.StatusCode, ep, strings.TrimSpace(string(raw)))
		}
		return raw, nil
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
