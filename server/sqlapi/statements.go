package sqlapi

import (
	"context"
	"net/http"
	"time"
)

// statementRoutes are the endpoints that run SQL.
func (a *API) statementRoutes() map[string]http.Handler {
	return map[string]http.Handler{
		"POST /db/execute": http.HandlerFunc(a.execute),
		"GET /db/query":    http.HandlerFunc(a.query),
		"POST /db/query":   http.HandlerFunc(a.query),
		"POST /db/request": http.HandlerFunc(a.request),
	}
}

// execute runs writes through the log. A read sent here runs too (through
// the log) and answers like a write, as rqlite's does.
func (a *API) execute(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, formWrite, func(ctx context.Context, req Request, _ QueryOptions) ([]Result, error) {
		return a.cfg.DB.Execute(ctx, req)
	})
}

// query runs reads at the requested level; a write in it fails in its
// result, as rqlite's does.
func (a *API) query(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, formRows, a.cfg.DB.Query)
}

// request runs reads and writes mixed (rqlite's unified endpoint).
func (a *API) request(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, formAuto, a.cfg.DB.Request)
}

type runFunc func(ctx context.Context, req Request, opts QueryOptions) ([]Result, error)

func (a *API) serve(w http.ResponseWriter, r *http.Request, form resultForm, run runFunc) {
	start := time.Now()
	f, err := parseFlags(r.URL.Query())
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
	results, err := run(ctx, req, f.Query)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(encodeResponse(results, form, f, time.Since(start)))
}

// readRequest takes the statements from GET's ?q= or from the body.
func (a *API) readRequest(w http.ResponseWriter, r *http.Request, f flags) (Request, error) {
	req := Request{Transaction: f.Transaction}
	if r.Method == http.MethodGet {
		if f.SQL == "" {
			return Request{}, badRequest("GET /db/query needs the statement in ?q=")
		}
		s, err := statementOf(f.SQL)
		if err != nil {
			return Request{}, badRequest(err.Error())
		}
		req.Statements = []Statement{s}
		return req, nil
	}
	if f.SQL != "" {
		return Request{}, badRequest("?q= is for GET /db/query; POST the statements in the body")
	}
	stmts, err := decodeStatements(http.MaxBytesReader(w, r.Body, a.cfg.MaxRequestBytes))
	if err != nil {
		return Request{}, err
	}
	req.Statements = stmts
	return req, nil
}
