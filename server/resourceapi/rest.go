package resourceapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"google.golang.org/protobuf/proto"

	"github.com/concord-db/concord/resource"
)

// DefaultTenancy is the partition and namespace a REST request names
// when it gives none, as Consul's HTTP API defaults them.
const DefaultTenancy = "default"

const (
	itemPath = "/v1/resource/{group}/{group_version}/{kind}/{name}"
	typePath = "/v1/resource/{group}/{group_version}/{kind}"
)

// Routes are the REST endpoints as ServeMux patterns, for
// server.Extension (docs/resources.md describes them).
func (a *API) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET " + itemPath:    http.HandlerFunc(a.httpRead),
		"PUT " + itemPath:    http.HandlerFunc(a.httpWrite),
		"DELETE " + itemPath: http.HandlerFunc(a.httpDelete),
		"GET " + typePath:    http.HandlerFunc(a.httpList),
		"GET /v1/resource":   http.HandlerFunc(a.httpOwned),
	}
}

// query reads a request's parameters, refusing ones the route does not
// take, so that a misspelt parameter is an error and not ignored.
type query struct {
	v   url.Values
	err error
}

func parseQuery(r *http.Request, allowed ...string) *query {
	q := &query{v: r.URL.Query()}
	for k := range q.v {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok && q.err == nil {
			q.err = badField(k, "unknown query parameter (this endpoint takes %v)", allowed)
		}
	}
	return q
}

func (q *query) str(k, def string) string {
	if v := q.v.Get(k); v != "" {
		return v
	}
	return def
}

func (q *query) flag(k string) bool {
	if !q.v.Has(k) {
		return false
	}
	v := q.v.Get(k)
	b, err := strconv.ParseBool(v)
	if v == "" {
		b, err = true, nil
	}
	if err != nil && q.err == nil {
		q.err = badField(k, "want true or false, got %q", v)
	}
	return b
}

func (q *query) uint(k string) uint64 {
	v := q.v.Get(k)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil && q.err == nil {
		q.err = badField(k, "want a version number, got %q", v)
	}
	return n
}

func (q *query) consistency() resource.ReadConsistency {
	if q.flag("consistent") {
		return resource.StrongConsistency
	}
	return resource.EventualConsistency
}

func (q *query) tenancy() *pbresource.Tenancy {
	return &pbresource.Tenancy{Partition: q.str("partition", DefaultTenancy), Namespace: q.str("namespace", DefaultTenancy)}
}

func pathType(r *http.Request) *pbresource.Type {
	return &pbresource.Type{Group: r.PathValue("group"), GroupVersion: r.PathValue("group_version"), Kind: r.PathValue("kind")}
}

func (q *query) pathID(r *http.Request) *pbresource.ID {
	return &pbresource.ID{Type: pathType(r), Tenancy: q.tenancy(), Name: r.PathValue("name")}
}

func (a *API) httpRead(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r, "partition", "namespace", "consistent")
	id, c := q.pathID(r), q.consistency()
	if q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	res, err := a.read(r.Context(), c, id)
	a.observe("read", err)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeResource(w, r, http.StatusOK, res)
}

// httpWrite is PUT: the body is the resource's JSON form; its id may be
// left out (the path names it) and must match the path if given.
func (a *API) httpWrite(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r, "partition", "namespace", "version")
	id, version := q.pathID(r), q.v.Get("version")
	if q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(a.cfg.MaxRequestBytes)))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := UnmarshalResource(body)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := mergePathID(res, id, version); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.write(r.Context(), res, false)
	a.observe("write", err)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeResource(w, r, http.StatusOK, out)
}

// mergePathID puts the path's id and the ?version= into res. A body id
// may leave out what the path says (type, name, tenancy) and may name the
// uid; what it does say must match the path, and a body version must
// match ?version=.
func mergePathID(res *pbresource.Resource, id *pbresource.ID, version string) error {
	if given := res.Id; given != nil {
		if given.Type == nil {
			given.Type = id.Type
		}
		if given.Name == "" {
			given.Name = id.Name
		}
		if given.Tenancy == nil {
			given.Tenancy = id.Tenancy
		}
		uid := given.Uid
		given.Uid = ""
		if !proto.Equal(given, id) {
			return badField("id", "the body names %s, the path and query %s", FormatID(given), FormatID(id))
		}
		id.Uid = uid
	}
	res.Id = id
	if version != "" {
		if res.Version != "" && res.Version != version {
			return badField("version", "the body says %q, ?version= %q", res.Version, version)
		}
		res.Version = version
	}
	return nil
}

func (a *API) httpDelete(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r, "partition", "namespace", "version")
	id, version := q.pathID(r), q.v.Get("version")
	if q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	err := a.remove(r.Context(), id, version, false)
	a.observe("delete", err)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// httpList lists a type (?name_prefix=), the resources of the type an
// owner owns (?owner=), or watches the list (?watch).
func (a *API) httpList(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r, "partition", "namespace", "consistent", "name_prefix", "owner", "watch", "from_version")
	t, ten, prefix, c := pathType(r), q.tenancy(), q.v.Get("name_prefix"), q.consistency()
	watch, from := q.flag("watch"), q.uint("from_version")
	switch {
	case q.err != nil:
		a.fail(w, r, q.err)
	case watch:
		if q.v.Has("owner") || q.v.Has("consistent") {
			a.fail(w, r, badField("watch", "takes partition, namespace, name_prefix and from_version only"))
			return
		}
		a.httpWatch(w, r, t, ten, prefix, from)
	case q.v.Has("from_version"):
		a.fail(w, r, badField("from_version", "only with ?watch"))
	case q.v.Has("owner"):
		if q.v.Has("name_prefix") {
			a.fail(w, r, badField("owner", "cannot be combined with name_prefix"))
			return
		}
		if err := checkType("type", t); err != nil {
			a.fail(w, r, err)
			return
		}
		a.httpListByOwner(w, r, q, c, t)
	default:
		list, err := a.list(r.Context(), c, t, ten, prefix)
		a.observe("list", err)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.writeList(w, r, list)
	}
}

// httpOwned is GET /v1/resource?owner=ID: everything an owner owns.
func (a *API) httpOwned(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r, "owner", "consistent")
	c := q.consistency()
	if q.err == nil && !q.v.Has("owner") {
		q.err = badField("owner", "required")
	}
	if q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	a.httpListByOwner(w, r, q, c, nil)
}

// httpListByOwner lists what ?owner= owns, of type t only if t is set.
func (a *API) httpListByOwner(w http.ResponseWriter, r *http.Request, q *query, c resource.ReadConsistency, t *pbresource.Type) {
	owner, err := ParseID(q.v.Get("owner"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	list, err := a.listByOwner(r.Context(), c, owner)
	a.observe("list_by_owner", err)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if t != nil {
		kept := list[:0:0]
		for _, res := range list {
			if rt := res.GetId().GetType(); rt.GetGroup() == t.Group && rt.GetKind() == t.Kind {
				kept = append(kept, res)
			}
		}
		list = kept
	}
	a.writeList(w, r, list)
}

func (a *API) writeResource(w http.ResponseWriter, r *http.Request, status int, res *pbresource.Resource) {
	b, err := MarshalResource(res)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeBody(w, status, b)
}

func (a *API) writeList(w http.ResponseWriter, r *http.Request, list []*pbresource.Resource) {
	b, err := MarshalResources(list)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeBody(w, http.StatusOK, b)
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// ErrorBody is the JSON body of every REST error answer.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// fail writes err as an ErrorBody with its mapped status, logging the
// server's own failures.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	to := classify(err)
	if to.http == http.StatusInternalServerError {
		a.cfg.Logger.Error("resource api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	b, _ := json.Marshal(ErrorBody{Error: errorMessage(err), Code: to.code})
	writeBody(w, to.http, b)
}
