package sqlapi

import (
	"fmt"
	"net/http"
	"net/url"
)

// backupRoutes are the endpoints that copy the whole database out and in.
func (a *API) backupRoutes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /db/backup": http.HandlerFunc(a.backup),
		"POST /db/load":  http.HandlerFunc(a.load),
	}
}

// backup streams the database: a SQLite file by default, the SQL text
// (sqlite3's .dump) with ?fmt=sql.
func (a *API) backup(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := onlyFlags(q, "fmt"); err != nil {
		a.fail(w, r, err)
		return
	}
	out := &lazyWriter{w: w}
	var err error
	switch q.Get("fmt") {
	case "", "binary", "sqlite":
		out.contentType = "application/octet-stream"
		err = a.cfg.DB.Backup(r.Context(), out)
	case "sql":
		out.contentType = "application/sql; charset=utf-8"
		err = a.cfg.DB.Dump(r.Context(), out)
	default:
		err = badRequest(fmt.Sprintf("query parameter \"fmt\": %q is not sql or binary", q.Get("fmt")))
	}
	if err == nil {
		out.start()
		return
	}
	if out.started {
		// The status is sent; the cut-off body is all that can tell.
		a.cfg.Logger.Error("sql backup failed mid-stream", "err", err)
		return
	}
	a.fail(w, r, err)
}

// load replaces the database with a SQLite file or a SQL dump, through
// the log, so every member loads it.
func (a *API) load(w http.ResponseWriter, r *http.Request) {
	if err := onlyFlags(r.URL.Query(), "redirect", "timings", "pretty"); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.DB.Load(r.Context(), http.MaxBytesReader(w, r.Body, a.cfg.MaxLoadBytes)); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSONValue(w, http.StatusOK, struct {
		Results []struct{} `json:"results"`
	}{Results: []struct{}{}}, false)
}

// onlyFlags refuses query parameters other than allowed.
func onlyFlags(q url.Values, allowed ...string) error {
	for k := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return badRequest(fmt.Sprintf("unknown query parameter %q", k))
		}
	}
	return nil
}

// lazyWriter sends the status and headers with the first byte, so an
// error before any data still gets a proper error answer.
type lazyWriter struct {
	w           http.ResponseWriter
	contentType string
	started     bool
}

func (l *lazyWriter) start() {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", l.contentType)
		l.w.WriteHeader(http.StatusOK)
	}
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	l.start()
	return l.w.Write(p)
}
