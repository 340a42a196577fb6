package sqlapi

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// flags are rqlite's query-string options of the /db endpoints.
type flags struct {
	Transaction bool
	Associative bool
	Timings     bool
	Pretty      bool
	BlobArray   bool
	Query       QueryOptions
	// Timeout bounds the whole request (rqlite's timeout, default
	// DefaultTimeout); Query.Timeout is SQLite's limit (db_timeout).
	Timeout time.Duration
	// SQL is the statement of GET /db/query?q=.
	SQL string
}

// DefaultTimeout bounds a request without a timeout flag, as rqlite's.
const DefaultTimeout = 30 * time.Second

// knownFlags are the query-string keys the /db endpoints accept. redirect
// and noleader are accepted and ignored: every member serves every request.
var knownFlags = []string{
	"associative", "blob_array", "db_timeout", "freshness", "freshness_strict",
	"level", "noleader", "pretty", "q", "redirect", "timeout", "timings", "transaction",
}

// parseFlags reads the query string. A flag is on when present with no
// value or a true value ("?pretty", "?pretty=true"); an unknown flag, a
// bad value and the queue/wait flags (concord does not queue writes) are
// errors.
func parseFlags(q url.Values) (flags, error) {
	f := flags{Timeout: DefaultTimeout, Query: QueryOptions{Level: LevelWeak}}
	for _, key := range slices.Sorted(maps.Keys(q)) {
		if key == "queue" || key == "wait" {
			return flags{}, badRequest("queued writes (?" + key + ") are not supported: concord commits every write before answering, send it without the flag")
		}
		if !slices.Contains(knownFlags, key) {
			return flags{}, badRequest(fmt.Sprintf("unknown query parameter %q", key))
		}
		if len(q[key]) > 1 {
			return flags{}, badRequest(fmt.Sprintf("query parameter %q given more than once", key))
		}
	}
	var err error
	bools := []struct {
		key string
		dst *bool
	}{
		{"transaction", &f.Transaction}, {"associative", &f.Associative}, {"timings", &f.Timings},
		{"pretty", &f.Pretty}, {"blob_array", &f.BlobArray}, {"freshness_strict", &f.Query.FreshnessStrict},
		{"redirect", new(bool)}, {"noleader", new(bool)},
	}
	for _, b := range bools {
		if *b.dst, err = boolFlag(q, b.key); err != nil {
			return flags{}, err
		}
	}
	switch v := strings.ToLower(q.Get("level")); v {
	case "", "auto": // rqlite's auto is none on a read-only member, weak on a voter
	default:
		if f.Query.Level, err = ParseLevel(v); err != nil {
			return flags{}, badRequest(err.Error())
		}
	}
	durations := []struct {
		key string
		dst *time.Duration
	}{{"freshness", &f.Query.Freshness}, {"db_timeout", &f.Query.Timeout}, {"timeout", &f.Timeout}}
	for _, d := range durations {
		if err := durationFlag(q, d.key, d.dst); err != nil {
			return flags{}, err
		}
	}
	if f.Query.Level != LevelNone {
		// Every other level reads at least as fresh as any bound, so
		// rqlite's clients may send freshness with them: it is ignored.
		f.Query.Freshness, f.Query.FreshnessStrict = 0, false
	}
	f.SQL = q.Get("q")
	return f, nil
}

func boolFlag(q url.Values, key string) (bool, error) {
	vs, ok := q[key]
	if !ok {
		return false, nil
	}
	if vs[0] == "" {
		return true, nil
	}
	v, err := strconv.ParseBool(vs[0])
	if err != nil {
		return false, badRequest(fmt.Sprintf("query parameter %q: %q is not a boolean", key, vs[0]))
	}
	return v, nil
}

// durationFlag reads a duration in Go's form ("500ms", "2s"), rqlite's;
// a bare number is seconds, as gorqlite and older rqlite send it.
func durationFlag(q url.Values, key string, dst *time.Duration) error {
	v := q.Get(key)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return badRequest(fmt.Sprintf("query parameter %q: %q is not a duration (e.g. 500ms, 2s)", key, v))
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 || d > 24*time.Hour {
		return badRequest(fmt.Sprintf("query parameter %q: %s is out of range (above 0, at most 24h)", key, v))
	}
	*dst = d
	return nil
}
