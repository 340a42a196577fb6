package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/concord-db/concord/server"
	"github.com/spf13/cobra"
)

// clientOptions are the flags shared by the commands that talk to a cluster.
type clientOptions struct {
	endpoints []string
	timeout   time.Duration
	output    string
	tls       clientTLSOptions
	auth      clientAuthOptions
}

func (o *clientOptions) addFlags(cmd *cobra.Command, withOutput bool) {
	cmd.Flags().StringSliceVar(&o.endpoints, "endpoints", []string{defaultClientAddr},
		"client addresses of cluster members, tried in order: host:port or http://host:port, comma-separated")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of the whole request")
	o.tls.addFlags(cmd)
	o.auth.addFlags(cmd)
	if withOutput {
		cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	}
}

func (o *clientOptions) check() error {
	if o.output != "" && o.output != "table" && o.output != "json" {
		return usagef("--output %q: want table or json", o.output)
	}
	if len(o.endpoints) == 0 {
		return usagef("--endpoints is empty")
	}
	_, err := o.tls.config(o.endpoints)
	return err
}

// apiClient calls the REST API of the first endpoint that answers.
type apiClient struct {
	endpoints []string
	http      *http.Client
}

func (o *clientOptions) client() *apiClient {
	cfg, _ := o.tls.config(o.endpoints)       // checked by check
	tr := o.auth.withAuth(httpTransport(cfg)) // --user: a token on every request (client_auth.go)
	return &apiClient{endpoints: o.tls.httpEndpoints(o.endpoints), http: &http.Client{Timeout: o.timeout, Transport: tr}}
}

func baseURL(endpoint string) string {
	endpoint = strings.TrimSuffix(strings.TrimSpace(endpoint), "/")
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	return endpoint
}

// do sends the request to each endpoint in turn until one answers (a
// connection error moves on to the next; any HTTP answer counts). A
// non-2xx answer becomes an error with the server's code and message.
// The raw body is returned for -o json.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, ep := range c.endpoints {
		req, err := http.NewRequestWithContext(ctx, method, baseURL(ep)+path, bytes.NewReader(body))
		if err != nil {
			return nil, usagef("endpoint %q: %v", ep, err)
		}
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
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
			var eb server.ErrorBody
			if json.Unmarshal(raw, &eb) == nil && eb.Code != "" {
				return raw, fmt.Errorf("%s (%s, HTTP %d from %s)", eb.Error, eb.Code, resp.StatusCode, ep)
			}
			return raw, fmt.Errorf("HTTP %d from %s: %s", resp.StatusCode, ep, strings.TrimSpace(string(raw)))
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				return raw, fmt.Errorf("%s: unexpected answer: %w", ep, err)
			}
		}
		return raw, nil
	}
	return nil, fmt.Errorf("no endpoint answered: %w", errors.Join(errs...))
}

// printJSON writes raw JSON indented, as the server sent it.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
