package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/concord-db/concord/node"
)

func newTestServer(t *testing.T, f *fakeNode) *Server {
	t.Helper()
	s, err := New(Config{Node: f, MaxBodyBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlers(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*fakeNode)
		method     string
		path       string
		body       string
		wantStatus int
		wantCode   string // error code, for error responses
		wantCall   string // the membership call the node must have seen
		wantBody   string // a substring of the body
	}{
		{name: "healthz", method: "GET", path: "/healthz", wantStatus: 200, wantBody: `"ok"`},
		{name: "healthz without leader", setup: func(f *fakeNode) { f.leaderErr = node.ErrNoLeader },
			method: "GET", path: "/healthz", wantStatus: 200},
		{name: "readyz", method: "GET", path: "/readyz", wantStatus: 200, wantBody: `"ready"`},
		{name: "readyz not caught up", setup: func(f *fakeNode) { f.ready = make(chan struct{}) },
			method: "GET", path: "/readyz", wantStatus: 503, wantCode: CodeNotReady},
		{name: "readyz no leader", setup: func(f *fakeNode) { f.leaderErr = node.ErrNoLeader },
			method: "GET", path: "/readyz", wantStatus: 503, wantCode: CodeNoLeader},
		{name: "readyz removed", setup: func(f *fakeNode) { f.removed = true },
			method: "GET", path: "/readyz", wantStatus: 503, wantCode: CodeRemoved, wantBody: "removed"},
		{name: "status", method: "GET", path: "/v1/status", wantStatus: 200,
			wantBody: `"leader_client_addr": "127.0.0.1:2379"`},
		{name: "status members error", setup: func(f *fakeNode) { f.membersErr = node.ErrShutdown },
			method: "GET", path: "/v1/status", wantStatus: 200, wantBody: `"members_error": "node: shut down"`},
		{name: "members", method: "GET", path: "/v1/members", wantStatus: 200, wantBody: `"peer_addr": "127.0.0.1:3380"`},
		{name: "members error", setup: func(f *fakeNode) { f.membersErr = node.ErrShutdown },
			method: "GET", path: "/v1/members", wantStatus: 503, wantCode: CodeShutdown},
		{name: "add voter", method: "POST", path: "/v1/members",
			body:       `{"id":"n3","peer_addr":"127.0.0.1:4380","client_addr":"127.0.0.1:4379"}`,
			wantStatus: 200, wantCall: "AddVoter n3 127.0.0.1:4380 127.0.0.1:4379"},
		{name: "add voter explicitly", method: "POST", path: "/v1/members",
			body:       `{"id":"n3","peer_addr":"h:1","voter":true}`,
			wantStatus: 200, wantCall: "AddVoter n3 h:1 "},
		{name: "add non-voter", method: "POST", path: "/v1/members",
			body:       `{"id":"n4","peer_addr":"127.0.0.1:5380","voter":false}`,
			wantStatus: 200, wantCall: "AddNonVoter n4 127.0.0.1:5380 "},
		{name: "add refused by node", setup: func(f *fakeNode) { f.changeErr = fmt.Errorf("%w: peer address in use", node.ErrMember) },
			method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"h:1"}`,
			wantStatus: 409, wantCode: CodeMemberConflict, wantCall: "AddVoter n3 h:1 "},
		{name: "add refused by remote leader", setup: func(f *fakeNode) {
			f.changeErr = &node.RemoteError{Node: "n2", Err: node.ErrMember}
		}, method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"h:1"}`,
			wantStatus: 409, wantCode: CodeMemberConflict, wantCall: "AddVoter n3 h:1 "},
		{name: "add without leader", setup: func(f *fakeNode) { f.changeErr = node.ErrNoLeader },
			method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"h:1"}`,
			wantStatus: 503, wantCode: CodeNoLeader},
		{name: "add not leader", setup: func(f *fakeNode) { f.changeErr = fmt.Errorf("x: %w", node.ErrNotLeader) },
			method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"h:1"}`,
			wantStatus: 503, wantCode: CodeNotLeader},
		{name: "add outcome unknown", setup: func(f *fakeNode) { f.changeErr = node.ErrUnknownOutcome },
			method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"h:1"}`,
			wantStatus: 504, wantCode: CodeUnknownOutcome},
		{name: "add internal error", setup: func(f *fakeNode) { f.changeErr = errors.New("disk on fire") },
			method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"h:1"}`,
			wantStatus: 500, wantCode: CodeInternal},
		{name: "add empty body", method: "POST", path: "/v1/members", wantStatus: 400, wantCode: CodeBadRequest},
		{name: "add bad JSON", method: "POST", path: "/v1/members", body: `{"id":`, wantStatus: 400, wantCode: CodeBadRequest},
		{name: "add wrong type", method: "POST", path: "/v1/members", body: `{"id":3,"peer_addr":"h:1"}`,
			wantStatus: 400, wantCode: CodeBadRequest},
		{name: "add unknown field", method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"h:1","learner":true}`,
			wantStatus: 400, wantCode: CodeBadRequest, wantBody: "learner"},
		{name: "add trailing data", method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"h:1"} {}`,
			wantStatus: 400, wantCode: CodeBadRequest},
		{name: "add array", method: "POST", path: "/v1/members", body: `[]`, wantStatus: 400, wantCode: CodeBadRequest},
		{name: "add without id", method: "POST", path: "/v1/members", body: `{"peer_addr":"h:1"}`,
			wantStatus: 400, wantCode: CodeBadRequest, wantBody: "id is required"},
		{name: "add bad id", method: "POST", path: "/v1/members", body: `{"id":"a,b","peer_addr":"h:1"}`,
			wantStatus: 400, wantCode: CodeBadRequest},
		{name: "add without peer addr", method: "POST", path: "/v1/members", body: `{"id":"n3"}`,
			wantStatus: 400, wantCode: CodeBadRequest, wantBody: "peer_addr is required"},
		{name: "add bad peer addr", method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"nohost"}`,
			wantStatus: 400, wantCode: CodeBadRequest},
		{name: "add bad client addr", method: "POST", path: "/v1/members", body: `{"id":"n3","peer_addr":"h:1","client_addr":"x"}`,
			wantStatus: 400, wantCode: CodeBadRequest},
		{name: "add body too large", method: "POST", path: "/v1/members",
			body:       `{"id":"n3","peer_addr":"h:1","client_addr":"` + strings.Repeat("a", 300) + `:1"}`,
			wantStatus: 413, wantCode: CodeTooLarge},
		{name: "remove", method: "DELETE", path: "/v1/members/n2", wantStatus: 200, wantCall: "RemoveServer n2"},
		{name: "remove refused", setup: func(f *fakeNode) { f.changeErr = fmt.Errorf("%w: no member n9", node.ErrMember) },
			method: "DELETE", path: "/v1/members/n9", wantStatus: 409, wantCode: CodeMemberConflict, wantBody: "no member n9", wantCall: "RemoveServer n9"},
		{name: "remove bad id", method: "DELETE", path: "/v1/members/a=b", wantStatus: 400, wantCode: CodeBadRequest},
		{name: "transfer to any", method: "POST", path: "/v1/leader/transfer", wantStatus: 200, wantCall: "TransferLeadership "},
		{name: "transfer empty object", method: "POST", path: "/v1/leader/transfer", body: `{}`,
			wantStatus: 200, wantCall: "TransferLeadership "},
		{name: "transfer to n2", method: "POST", path: "/v1/leader/transfer", body: `{"id":"n2"}`,
			wantStatus: 200, wantCall: "TransferLeadership n2"},
		{name: "transfer timeout", setup: func(f *fakeNode) { f.changeErr = node.ErrTimeout },
			method: "POST", path: "/v1/leader/transfer", wantStatus: 504, wantCode: CodeTimeout},
		{name: "transfer bad JSON", method: "POST", path: "/v1/leader/transfer", body: `{"id":1}`,
			wantStatus: 400, wantCode: CodeBadRequest},
		{name: "transfer unknown field", method: "POST", path: "/v1/leader/transfer", body: `{"to":"n2"}`,
			wantStatus: 400, wantCode: CodeBadRequest},
		{name: "unknown path", method: "GET", path: "/v2/keys", wantStatus: 404, wantCode: CodeNotFound},
		{name: "wrong method", method: "PUT", path: "/v1/members", wantStatus: 405, wantCode: CodeMethodNotAllowed},
		{name: "wrong method on status", method: "POST", path: "/v1/status", wantStatus: 405, wantCode: CodeMethodNotAllowed},
		{name: "metrics", method: "GET", path: "/metrics", wantStatus: 200, wantBody: "concord_node_commit_index 42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNode()
			if tt.setup != nil {
				tt.setup(f)
			}
			w := do(t, newTestServer(t, f).Handler(), tt.method, tt.path, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body: %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantCode != "" {
				var eb ErrorBody
				if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
					t.Fatalf("error body is not JSON: %v: %s", err, w.Body)
				}
				if eb.Code != tt.wantCode || eb.Error == "" {
					t.Fatalf("error body %+v, want code %q and a message", eb, tt.wantCode)
				}
			}
			if tt.wantBody != "" && !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Fatalf("body does not contain %q:\n%s", tt.wantBody, w.Body)
			}
			switch {
			case tt.wantCall != "":
				if len(f.calls) != 1 || f.calls[0] != tt.wantCall {
					t.Fatalf("node calls %q, want [%q]", f.calls, tt.wantCall)
				}
			case w.Code != http.StatusConflict && w.Code >= 400 && w.Code < 500 && len(f.calls) > 0:
				t.Fatalf("bad input reached the node: %q", f.calls)
			}
		})
	}
}

func TestStatusJSON(t *testing.T) {
	w := do(t, newTestServer(t, newFakeNode()).Handler(), "GET", "/v1/status", "")
	var got StatusResponse
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "n1" || got.State != "Leader" || got.LeaderID != "n1" || got.LeaderPeerAddr != "127.0.0.1:2380" ||
		got.Term != 3 || got.CommitIndex != 42 || got.AppliedIndex != 41 || got.ClusterID != "0000000000000abc" || !got.Ready {
		t.Fatalf("unexpected status %+v", got)
	}
	if len(got.Members) != 2 {
		t.Fatalf("want 2 members, got %+v", got.Members)
	}
	want := MemberResponse{ID: "n2", PeerAddr: "127.0.0.1:3380", ClientAddr: "127.0.0.1:3379", Voter: true, State: "Unknown"}
	if got.Members[1] != want {
		t.Fatalf("member n2 = %+v, want %+v", got.Members[1], want)
	}
}

func TestErrorMappingWrapped(t *testing.T) {
	for _, m := range errorMapping {
		wrapped := &node.RemoteError{Node: "x", Err: fmt.Errorf("context: %w", m.err)}
		if status, code := errorStatus(wrapped); status != m.status || code != m.code {
			t.Errorf("%v: got %d %s, want %d %s", m.err, status, code, m.status, m.code)
		}
	}
}
