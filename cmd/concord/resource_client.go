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

	"github.com/hashicorp/consul/proto-public/pbresource"

	"github.com/concord-db/concord/server/resourceapi"
)

// resourceError is an error answer of the resource REST API.
type resourceError struct {
	status int
	body   resourceapi.ErrorBody
	from   string
}

func (e *resourceError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d from %s)", e.body.Error, e.body.Code, e.status, e.from)
}

// exitCodeOf gives a resource command's failure its exit code: 3 for a
// resource that does not exist, 4 for a lost compare-and-swap (nothing
// written).
func exitCodeOf(err error) error {
	var re *resourceError
	if errors.As(err, &re) {
		switch re.body.Code {
		case resourceapi.CodeNotFound:
			return &exitError{exitNotFound, err}
		case resourceapi.CodeCASFailure:
			return &exitError{exitCompareFailed, err}
		}
	}
	return err
}

// resourceClient calls /v1/resource on the first endpoint that answers.
type resourceClient struct {
	endpoints []string
	http      *http.Client
}

func (o *clientOptions) resourceClient(stream bool) *resourceClient {
	c := o.client()
	hc := c.http
	if stream {
		hc = &http.Client{Transport: c.http.Transport} // a watch runs until stopped
	}
	return &resourceClient{endpoints: c.endpoints, http: hc}
}

// send makes the request on each endpoint in turn until one answers; a
// non-2xx answer is a *resourceError. The caller closes the body.
func (c *resourceClient) send(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
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
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.StatusCode/100 != 2 {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			re := &resourceError{status: resp.StatusCode, from: ep}
			if json.Unmarshal(raw, &re.body) != nil || re.body.Code == "" {
				re.body = resourceapi.ErrorBody{Error: strings.TrimSpace(string(raw)), Code: "http"}
			}
			return nil, re
		}
		return resp, nil
	}
	return nil, fmt.Errorf("no endpoint answered: %w", errors.Join(errs...))
}

// call is send for a whole answer.
func (c *resourceClient) call(ctx context.Context, method, path string, q url.Values, body []byte) ([]byte, error) {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// typePath is the REST path of a type, itemPath of one resource.
func typePath(t *pbresource.Type) string {
	return "/v1/resource/" + url.PathEscape(t.Group) + "/" + url.PathEscape(t.GroupVersion) + "/" + url.PathEscape(t.Kind)
}

func itemPath(t *pbresource.Type, name string) string {
	return typePath(t) + "/" + url.PathEscape(name)
}
