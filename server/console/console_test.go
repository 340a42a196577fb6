package console

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/concord-db/concord/node"
	"github.com/prometheus/client_golang/prometheus"
)

type fakeNode struct {
	self    node.Status
	members []node.Member
	err     error
}

func (f *fakeNode) Status() node.Status { return f.self }
func (f *fakeNode) Members(context.Context) ([]node.Member, error) {
	return f.members, f.err
}

// threeMembers: n1 leads and answers, n2 follows 2000 entries behind and
// last heard from the leader 7 s ago, n3 does not answer.
func threeMembers() *fakeNode {
	leader := node.Status{ID: "n1", State: "Leader", LeaderID: "n1", Term: 4, CommitIndex: 5000, AppliedIndex: 5000,
		LastLogIndex: 5000, ClusterID: 0xabc}
	return &fakeNode{self: leader, members: []node.Member{
		{ID: "n1", PeerAddr: "p1", ClientAddr: "c1", Voter: true, Leader: true, Reachable: true, Status: leader},
		{ID: "n2", PeerAddr: "p2", ClientAddr: "c2", Voter: true, Reachable: true, Status: node.Status{ID: "n2", State: "Follower",
			LeaderID: "n1", Term: 4, CommitIndex: 4900, AppliedIndex: 3000, LastContact: 7 * time.Second}},
		{ID: "n3", PeerAddr: "p3", ClientAddr: "c3", Voter: false, Status: node.Status{ID: "n3", State: "Unknown"}},
	}}
}

func newConsole(t *testing.T, cfg Config) http.Handler {
	t.Helper()
	if cfg.Node == nil {
		cfg.Node = threeMembers()
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range c.Routes() {
		mux.Handle(p, h)
	}
	return mux
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %s: %v", w.Body, err)
	}
	return v
}

func TestNewRequiresNodeAndGatherer(t *testing.T) {
	if _, err := New(Config{Gatherer: prometheus.NewRegistry()}); err == nil {
		t.Error("New without a node succeeded")
	}
	if _, err := New(Config{Node: threeMembers()}); err == nil {
		t.Error("New without a gatherer succeeded")
	}
	if _, err := New(Config{Node: threeMembers(), Gatherer: prometheus.NewRegistry(), Alarms: func() []Alarm { return nil }}); err == nil {
		t.Error("New with alarms and no MemberID succeeded")
	}
}

func TestFiles(t *testing.T) {
	h := newConsole(t, Config{})
	w := get(t, h, "/ui/")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), "js/main.js") {
		t.Fatalf("/ui/: %d %q %.200s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q: want same-origin only, no inline code", csp)
	}
	if w.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("X-Frame-Options %q", w.Header().Get("X-Frame-Options"))
	}
	js := get(t, h, "/ui/js/main.js")
	if js.Code != 200 || !strings.HasPrefix(js.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("main.js: %d %q", js.Code, js.Header().Get("Content-Type"))
	}
	if again := get(t, h, "/ui/js/main.js", "If-None-Match", js.Header().Get("ETag")); again.Code != http.StatusNotModified {
		t.Errorf("main.js with its ETag: %d, want 304", again.Code)
	}
	missing := get(t, h, "/ui/nope.js")
	if missing.Code != 404 || decode[errorBody](t, missing).Code != codeNotFound {
		t.Errorf("missing file: %d %s", missing.Code, missing.Body)
	}
	if r := get(t, h, "/ui"); r.Code != http.StatusMovedPermanently || r.Header().Get("Location") != "/ui/" {
		t.Errorf("/ui: %d -> %q", r.Code, r.Header().Get("Location"))
	}
}

// TestAssetsSelfContained: every file the pages load is embedded, and no
// page loads anything from elsewhere (the console works offline).
func TestAssetsSelfContained(t *testing.T) {
	files, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"|from '\./([^']+)'`)
	external := regexp.MustCompile(`(?i)(?:src|href)="(?:https?:)?//|@import|url\(\s*['"]?(?:https?:)?//|from '(?:https?:)?//`)
	n := 0
	err = fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		if _, ok := files[name]; !ok {
			t.Errorf("%s is embedded but not served (unknown type)", name)
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s loads something from outside the member: %s", name, m)
		}
		dir := name[:strings.LastIndex(name, "/")+1]
		for _, m := range ref.FindAllSubmatch(b, -1) {
			target := string(m[1])
			if len(m[2]) > 0 {
				target = dir + string(m[2])
			}
			n++
			if _, ok := files[target]; !ok {
				t.Errorf("%s refers to %q, which is not embedded", name, target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("found only %d references: the patterns no longer match the pages", n)
	}
}

func TestCluster(t *testing.T) {
	h := newConsole(t, Config{
		Alarms:   func() []Alarm { return []Alarm{{MemberID: 2, Name: "NOSPACE"}, {MemberID: 99, Name: "CORRUPT"}} },
		MemberID: func(id string) uint64 { return uint64(id[1] - '0') },
	})
	w := get(t, h, "/v1/console/cluster")
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	v := decode[ClusterView](t, w)
	if v.Member != "n1" || v.Leader != "n1" || v.Term != 4 || v.ClusterID != "0000000000000abc" || v.Healthy {
		t.Errorf("view: %+v", v)
	}
	if len(v.Members) != 3 {
		t.Fatalf("members: %+v", v.Members)
	}
	n1, n2, n3 := v.Members[0], v.Members[1], v.Members[2]
	if !n1.Self || n1.Health != HealthHealthy || n1.Lag != 0 || n1.LastContactMS != 0 || len(n1.Problems) != 0 {
		t.Errorf("n1: %+v", n1)
	}
	if n2.Lag != 2000 || n2.LastContactMS != 7000 || n2.Health != HealthDegraded || n2.Self ||
		strings.Join(n2.Problems, "|") != "alarm NOSPACE|applied index 2000 entries behind|last heard from the leader 7s ago" ||
		len(n2.Alarms) != 1 {
		t.Errorf("n2: %+v", n2)
	}
	if n3.Reachable || n3.Health != HealthDown || n3.State != "Unknown" || n3.LastContactMS != -1 || n3.Voter {
		t.Errorf("n3: %+v", n3)
	}
	if len(v.Alarms) != 2 || v.Alarms[0] != (AlarmView{Member: "n2", MemberID: "2", Alarm: "NOSPACE"}) ||
		v.Alarms[1] != (AlarmView{Member: "", MemberID: "63", Alarm: "CORRUPT"}) {
		t.Errorf("alarms: %+v", v.Alarms)
	}
}

func TestClusterHealthy(t *testing.T) {
	f := threeMembers()
	f.members = f.members[:1]
	v := decode[ClusterView](t, get(t, newConsole(t, Config{Node: f}), "/v1/console/cluster"))
	if !v.Healthy || len(v.Alarms) != 0 {
		t.Errorf("one healthy leader: %+v", v)
	}
	f.self.LeaderID, f.members[0].Status.LeaderID = "", ""
	v = decode[ClusterView](t, get(t, newConsole(t, Config{Node: f}), "/v1/console/cluster"))
	if v.Healthy || v.Members[0].Health != HealthDegraded {
		t.Errorf("no leader known, still healthy: %+v", v)
	}
	f.err = errors.New("no configuration")
	v = decode[ClusterView](t, get(t, newConsole(t, Config{Node: f}), "/v1/console/cluster"))
	if v.Healthy || v.MembersError != "no configuration" {
		t.Errorf("member list failed: %+v", v)
	}
}

func TestEndpointsRefuseQueries(t *testing.T) {
	h := newConsole(t, Config{})
	for _, p := range []string{"/v1/console/cluster?x=1", "/v1/console/metrics?pretty", "/v1/console/session?a"} {
		if w := get(t, h, p); w.Code != 400 || decode[errorBody](t, w).Code != codeBadRequest {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
}
