package resourceapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/agent"
	"github.com/concord-db/concord/agent/agenttest"
	"github.com/concord-db/concord/resource"
	"github.com/concord-db/concord/server/resourceapi"
)

type restClient struct {
	t    *testing.T
	base string
}

// do sends a request and returns the status and body.
func (c restClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wantError checks an error answer's status and code.
func (c restClient) wantError(what string, status int, body string, wantStatus int, wantCode string) {
	c.t.Helper()
	var eb resourceapi.ErrorBody
	if status != wantStatus || json.Unmarshal([]byte(body), &eb) != nil || eb.Code != wantCode || eb.Error == "" {
		c.t.Fatalf("%s: HTTP %d %s, want %d with code %s", what, status, body, wantStatus, wantCode)
	}
}

func (c restClient) write(path, body string) map[string]any {
	c.t.Helper()
	status, out := c.do("PUT", path, body)
	if status != http.StatusOK {
		c.t.Fatalf("PUT %s: HTTP %d %s", path, status, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

func field(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, _ := v.(map[string]any)
		v = mm[p]
	}
	s, _ := v.(string)
	return s
}

// TestREST covers the REST API on a follower: CAS, errors in the one
// table, bad input that writes nothing, owners, lists and group versions.
func TestREST(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.Resource.MaxResourceBytes = 4096
		cfg.Resource.HistoryEvents = 4
		cfg.Limits.MaxRequestBytes = 64 << 10
	}})
	cl := restClient{t, "http://" + c.Endpoint(c.Follower())}
	const item = "/v1/resource/demo/v2/Artist/korn"

	v1 := cl.write(item, `{"data": {"name": "Korn"}}`)
	uid, ver := field(v1, "id", "uid"), field(v1, "version")
	if len(uid) != 26 || ver == "" || field(v1, "id", "tenancy", "namespace") != "default" {
		t.Fatalf("created %v", v1)
	}
	v2 := cl.write(item+"?version="+ver, `{"data": {"name": "KoЯn"}}`)
	status, body := cl.do("PUT", item+"?version="+ver, `{"data": {"name": "stale"}}`)
	cl.wantError("stale CAS", status, body, http.StatusConflict, resourceapi.CodeCASFailure)
	status, body = cl.do("PUT", item, `{"id": {"uid": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "data": {}}`)
	cl.wantError("another uid", status, body, http.StatusPreconditionFailed, resourceapi.CodeWrongUid)
	status, body = cl.do("PUT", item, `{"version": "1", "data": {}}`+"")
	if status != http.StatusConflict {
		t.Fatalf("body version: HTTP %d %s", status, body)
	}
	status, body = cl.do("GET", "/v1/resource/demo/v1/Artist/korn?consistent", "")
	cl.wantError("other group version", status, body, http.StatusConflict, resourceapi.CodeGroupVersion)
	status, body = cl.do("GET", "/v1/resource/demo/v2/Artist/korn?namespace=other", "")
	cl.wantError("other namespace", status, body, http.StatusNotFound, resourceapi.CodeNotFound)

	// Bad input: the error names it and nothing changes.
	bad := []struct {
		what, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown field", "PUT", item, `{"colour": "red"}`, 400, resourceapi.CodeInvalid},
		{"unknown id field", "PUT", item, `{"id": {"nick": "k"}}`, 400, resourceapi.CodeInvalid},
		{"not JSON", "PUT", item, `{"data":`, 400, resourceapi.CodeInvalid},
		{"body names another resource", "PUT", item, `{"id": {"name": "other"}}`, 400, resourceapi.CodeInvalid},
		{"body version differs", "PUT", item + "?version=" + ver, `{"version": "7"}`, 400, resourceapi.CodeInvalid},
		{"bad name", "PUT", "/v1/resource/demo/v2/Artist/Korn", `{}`, 400, resourceapi.CodeInvalid},
		{"bad kind", "PUT", "/v1/resource/demo/v2/artist/korn", `{}`, 400, resourceapi.CodeInvalid},
		{"bad partition", "PUT", item + "?partition=A", `{}`, 400, resourceapi.CodeInvalid},
		{"bad Any", "PUT", item, `{"data": {"@type": "nonsense"}}`, 400, resourceapi.CodeInvalid},
		{"unknown type without bytes", "PUT", item, `{"data": {"@type": "type.googleapis.com/x.y.Z", "a": 1}}`, 400, resourceapi.CodeInvalid},
		{"owner without uid", "PUT", item, `{"owner": {"name": "o", "type": {"group": "demo", "groupVersion": "v2", "kind": "Artist"}}}`, 400, resourceapi.CodeInvalid},
		{"resource over the cap", "PUT", item, `{"metadata": {"k": "` + strings.Repeat("x", 5000) + `"}}`, 413, resourceapi.CodeTooLarge},
		{"body over the cap", "PUT", item, `{"metadata": {"k": "` + strings.Repeat("x", 70<<10) + `"}}`, 413, resourceapi.CodeTooLarge},
		{"unknown parameter", "GET", item + "?consistency=strong", ``, 400, resourceapi.CodeInvalid},
		{"bad flag", "GET", item + "?consistent=maybe", ``, 400, resourceapi.CodeInvalid},
		{"malformed owner", "GET", "/v1/resource?owner=demo.v2.Artist/korn", ``, 400, resourceapi.CodeInvalid},
		{"owner without uid in query", "GET", "/v1/resource?owner=demo.v2.Artist/default/default/korn/", ``, 400, resourceapi.CodeInvalid},
		{"no owner", "GET", "/v1/resource", ``, 400, resourceapi.CodeInvalid},
		{"from_version without watch", "GET", "/v1/resource/demo/v2/Artist?from_version=3", ``, 400, resourceapi.CodeInvalid},
		{"bad from_version", "GET", "/v1/resource/demo/v2/Artist?watch&from_version=x", ``, 400, resourceapi.CodeInvalid},
		{"bad list tenancy", "GET", "/v1/resource/demo/v2/Artist?namespace=-", ``, 400, resourceapi.CodeInvalid},
	}
	for _, b := range bad {
		status, body := cl.do(b.method, b.path, b.body)
		cl.wantError(b.what, status, body, b.status, b.code)
		if b.what == "body over the cap" && !strings.Contains(body, "request body is larger than the limit of 65536 bytes") {
			t.Fatalf("%s: %s does not name the request cap", b.what, body)
		}
	}
	status, body = cl.do("GET", item+"?consistent", "")
	var now map[string]any
	if status != 200 || json.Unmarshal([]byte(body), &now) != nil || field(now, "version") != field(v2, "version") {
		t.Fatalf("after bad input: HTTP %d %s, want version %s", status, body, field(v2, "version"))
	}
	status, body = cl.do("POST", item, "{}")
	if status != http.StatusMethodNotAllowed {
		t.Fatalf("POST: HTTP %d %s", status, body)
	}

	// Owners: ?owner= lists what is owned, of the path's type or of all.
	owner := `{"uid": "` + uid + `", "name": "korn", "type": {"group": "demo", "groupVersion": "v2", "kind": "Artist"}, "tenancy": {"partition": "default", "namespace": "default"}}`
	cl.write("/v1/resource/demo/v2/Album/follow-the-leader", `{"owner": `+owner+`}`)
	cl.write("/v1/resource/demo/v2/Song/freak", `{"owner": `+owner+`}`)
	ownerQ := "owner=demo.v2.Artist/default/default/korn/" + uid
	for path, want := range map[string]string{
		"/v1/resource?" + ownerQ + "&consistent":                                            "follow-the-leader freak",
		"/v1/resource/demo/v2/Album?" + ownerQ + "&consistent":                              "follow-the-leader",
		"/v1/resource?owner=demo.v2.Artist/default/default/korn/01ARZ3NDEKTSV4RRFFQ69G5FAV": "",
	} {
		if got := listNames(t, cl, path); got != want {
			t.Errorf("GET %s: %q, want %q", path, got, want)
		}
	}
	cl.write("/v1/resource/demo/v2/Artist/kiss", `{}`)
	cl.write("/v1/resource/demo/v2/Artist/kiss?namespace=ns1", `{}`)
	for path, want := range map[string]string{
		"/v1/resource/demo/v2/Artist?consistent":                               "kiss korn",
		"/v1/resource/demo/v2/Artist?name_prefix=ki&namespace=*&consistent":    "kiss kiss",
		"/v1/resource/demo/v1/Artist?namespace=ns1&consistent":                 "kiss",
		"/v1/resource/demo/v2/Artist?name_prefix=x&partition=*&namespace=*":    "",
		"/v1/resource/demo/v2/Artist?partition=other&consistent&namespace=ns1": "",
	} {
		if got := listNames(t, cl, path); got != want {
			t.Errorf("GET %s: %q, want %q", path, got, want)
		}
	}
	// DELETE with a stale version refuses; without one it deletes.
	status, body = cl.do("DELETE", item+"?version="+ver, "")
	cl.wantError("stale delete", status, body, http.StatusConflict, resourceapi.CodeCASFailure)
	if status, body = cl.do("DELETE", item, ""); status != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d %s", status, body)
	}
	status, body = cl.do("GET", item+"?consistent", "")
	cl.wantError("read after delete", status, body, http.StatusNotFound, resourceapi.CodeNotFound)

	// More writes than the history holds: a watch cannot resume from the
	// start, on REST (410) or gRPC (OutOfRange, rebuilt as the typed error).
	status, body = cl.do("GET", "/v1/resource/demo/v2/Artist?watch&from_version=1", "")
	cl.wantError("resume from compacted history", status, body, http.StatusGone, resourceapi.CodeHistoryCompacted)
	w, err := grpcBackend{dialMember(t, c.Endpoint(c.Leader()))}.WatchList(context.Background(), resource.UnversionedType{Group: "demo", Kind: "Artist"}, nil, "", 1)
	var hc resource.HistoryCompactedError
	if !errors.As(err, &hc) || hc.Oldest <= 1 {
		t.Fatalf("gRPC resume from compacted history: %v, %v", w, err)
	}

	// The status section counts the resources (follow-the-leader, freak,
	// kiss twice); the metrics count them by type and the requests.
	var st struct {
		Faces map[string]struct {
			Resources int            `json:"resources"`
			ByType    map[string]int `json:"by_type"`
		} `json:"faces"`
	}
	status, body = cl.do("GET", "/v1/status", "")
	if status != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Faces["resource"].Resources != 4 || st.Faces["resource"].ByType["demo.Artist"] != 2 {
		t.Fatalf("status: HTTP %d %s", status, body)
	}
	_, body = cl.do("GET", "/metrics", "")
	for _, m := range []string{`concord_resource_resources{type="demo.Song"} 1`, `concord_resource_requests_total{code="cas_failure",op="write"} 2`,
		`concord_resource_requests_total{code="invalid_argument",op="write"}`} {
		if !strings.Contains(body, m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

func listNames(t *testing.T, cl restClient, path string) string {
	t.Helper()
	status, body := cl.do("GET", path, "")
	if status != 200 {
		t.Fatalf("GET %s: HTTP %d %s", path, status, body)
	}
	list, err := resourceapi.UnmarshalResources([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list {
		names = append(names, r.Id.Name)
	}
	return strings.Join(names, " ")
}

// TestRESTWatch streams a watch as NDJSON, then resumes it on another
// member from the last version seen.
func TestRESTWatch(t *testing.T) {
	c := agenttest.Start(t, 3, agenttest.Options{})
	f := c.Follower()
	cl := restClient{t, "http://" + c.Endpoint(f)}
	cl.write("/v1/resource/demo/v2/Artist/a", `{}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lines := watchLines(t, ctx, cl.base+"/v1/resource/demo/v2/Artist?watch")
	next := func() resourceapi.WatchLine {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the watch stream ended")
			}
			return l
		case <-ctx.Done():
			t.Fatal("no watch line")
		}
		return resourceapi.WatchLine{}
	}
	if l := next(); l.Type != "upsert" || l.Version == 0 {
		t.Fatalf("first line %+v", l)
	}
	snap := next()
	if snap.Type != "end_of_snapshot" || snap.Version == 0 {
		t.Fatalf("second line %+v", snap)
	}
	cl.write("/v1/resource/demo/v2/Artist/b", `{}`)
	if status, body := cl.do("DELETE", "/v1/resource/demo/v2/Artist/a", ""); status != 204 {
		t.Fatalf("delete: %d %s", status, body)
	}
	up, del := next(), next()
	if up.Type != "upsert" || del.Type != "delete" || up.Version <= snap.Version || del.Version <= up.Version {
		t.Fatalf("events %+v %+v after snapshot at %d", up, del, snap.Version)
	}
	other := "http://" + c.Endpoint((f+1)%3)
	resumed := watchLines(t, ctx, other+"/v1/resource/demo/v2/Artist?watch&from_version="+itoa(up.Version))
	select {
	case l := <-resumed:
		if l.Type != "delete" || l.Version != del.Version || string(l.Resource) != string(del.Resource) {
			t.Fatalf("resumed from %d on another member: %+v, want %+v", up.Version, l, del)
		}
	case <-ctx.Done():
		t.Fatal("no resumed line")
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// watchLines reads a watch stream's lines until ctx ends.
func watchLines(t *testing.T, ctx context.Context, url string) <-chan resourceapi.WatchLine {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("watch: HTTP %d %s", resp.StatusCode, b)
	}
	out := make(chan resourceapi.WatchLine)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var l resourceapi.WatchLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				return
			}
			select {
			case out <- l:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
