package sqlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/concord-db/concord/auth"
	"github.com/concord-db/concord/sqlstore"
)

// txnOwner is the user a request comes from (the client port's guard put
// it in the context; "" with auth off): a transaction is bound to the
// user that began it.
func txnOwner(r *http.Request) string {
	id, _ := auth.IdentityFromContext(r.Context())
	return id.Name
}

// txnFlags reads the query string of a transaction endpoint: only the
// keys in allowed (a consistency level or ?transaction means nothing
// inside a transaction, so they are refused rather than ignored).
func txnFlags(q url.Values, allowed ...string) (flags, bool, error) {
	rest := url.Values{}
	for key, vs := range q {
		if !slices.Contains(allowed, key) {
			return flags{}, false, badRequest(fmt.Sprintf("query parameter %q is not accepted here (the transaction endpoints take %v)", key, allowed))
		}
		if key != "read_only" {
			rest[key] = vs
		}
	}
	readOnly, err := boolFlag(q, "read_only")
	if err != nil {
		return flags{}, false, err
	}
	f, err := parseFlags(rest)
	return f, readOnly, err
}

// writeOK answers an empty JSON object, or {"id": id} for a begin.
func writeOK(w http.ResponseWriter, body any, pretty bool) {
	writeJSONValue(w, http.StatusOK, body, pretty)
}

// txBegin begins a transaction and, when the body holds statements, runs
// them in it: {"id": ..., "results": [...]}, one round trip for BEGIN
// and the first statements. Nothing runs through the log, so a client
// may send this again to another member when it got no answer.
func (a *API) txBegin(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	f, readOnly, err := txnFlags(r.URL.Query(), "read_only", "timeout", "db_timeout", "pretty", "timings", "associative", "blob_array")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxRequestBytes))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var stmts []Statement
	if len(bytes.TrimSpace(body)) > 0 {
		if stmts, err = decodeStatements(bytes.NewReader(body)); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), f.Timeout)
	defer cancel()
	tx, err := a.txns.db.BeginTx(ctx, sqlstore.TxOptions{ReadOnly: readOnly})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var results []Result
	if len(stmts) > 0 {
		if results, err = tx.Execute(ctx, stmts); err != nil {
			_ = tx.Rollback()
			a.fail(w, r, err)
			return
		}
	}
	id, err := a.txns.addOwned(tx, txnOwner(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	idJSON, _ := json.Marshal(id)
	if len(stmts) == 0 {
		writeOK(w, struct {
			ID string `json:"id"`
		}{id}, f.Pretty)
		return
	}
	pretty := f.Pretty
	f.Pretty = false
	out := encodeResponse(results, formAuto, f, time.Since(start)) // {"results":...}
	out = append(append([]byte(`{"id":`), idJSON...), append([]byte{','}, out[1:]...)...)
	if pretty {
		var indented bytes.Buffer
		if json.Indent(&indented, out, "", "    ") == nil {
			out = indented.Bytes()
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// txExecute runs the body's statements in the transaction and answers
// like /db/request: rows for reads, last_insert_id/rows_affected for
// writes, error for a statement SQLite rejected.
func (a *API) txExecute(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.PathValue("id")
	f, _, err := txnFlags(r.URL.Query(), "timeout", "db_timeout", "pretty", "timings", "associative", "blob_array")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	tx, err := a.txns.getOwned(id, txnOwner(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	req, err := a.readRequest(w, r, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), f.Timeout)
	defer cancel()
	results, err := tx.Execute(ctx, req.Statements)
	if err != nil {
		if txnEnded(err) {
			a.txns.remove(id)
		}
		a.fail(w, r, err)
		return
	}
	a.txns.touch(id)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(encodeResponse(results, formAuto, f, time.Since(start)))
}

// txnEnded reports whether err ended the transaction.
func txnEnded(err error) bool {
	return errors.Is(err, sqlstore.ErrTxnConflict) || errors.Is(err, sqlstore.ErrTxnAborted) || errors.Is(err, sqlstore.ErrTxnDone)
}

func (a *API) txCommit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f, _, err := txnFlags(r.URL.Query(), "timeout", "pretty")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	tx, err := a.txns.getOwned(id, txnOwner(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer a.txns.remove(id)
	ctx, cancel := context.WithTimeout(r.Context(), f.Timeout)
	defer cancel()
	if err := tx.Commit(ctx); err != nil {
		a.fail(w, r, err)
		return
	}
	writeOK(w, struct{}{}, f.Pretty)
}

func (a *API) txRollback(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f, _, err := txnFlags(r.URL.Query(), "pretty")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	tx, err := a.txns.getOwned(id, txnOwner(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.txns.remove(id)
	_ = tx.Rollback() // ErrTxnDone only if a commit raced it; either way it is over
	writeOK(w, struct{}{}, f.Pretty)
}
