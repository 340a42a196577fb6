package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/concord-db/concord/server"
)

// restoreAttempts bounds how often a restore is sent again after the
// leadership moved under it.
const restoreAttempts = 5

// restoreRetrying posts the archive and sends it again when the answer is
// that leadership moved during the restore (unknown outcome) or that no
// member could lead it just then. Sending a restore twice is safe: the
// second installs the same state over the first, so an unknown outcome is
// settled by trying again rather than left to the operator.
func (o *snapshotOptions) restoreRetrying(ctx context.Context, log io.Writer, body func() (io.ReadCloser, int64, error)) (*http.Response, string, error) {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		resp, ep, err := o.request(ctx, http.MethodPost, "/v1/snapshot/restore", body)
		if err == nil || attempt == restoreAttempts || !restoreRetryable(err) {
			return resp, ep, err
		}
		fmt.Fprintf(log, "restore attempt %d: %v; sending it again\n", attempt, err)
		select {
		case <-ctx.Done():
			return nil, "", errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// restoreRetryable reports whether err is an answer that a later attempt
// may change: the leader lost its leadership while committing, or no
// member was leader.
func restoreRetryable(err error) bool {
	var ce *codedError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.code {
	case server.CodeUnknownOutcome, server.CodeNotLeader, server.CodeNoLeader, server.CodeNotReady:
		return true
	}
	return false
}

// codedError is an error answer from the server's JSON error body.
type codedError struct {
	code string
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }
