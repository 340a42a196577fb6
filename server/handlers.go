package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/concord-db/concord/node"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// StatusResponse is the body of GET /v1/status.
type StatusResponse struct {
	ID               string           `json:"id"`
	State            string           `json:"state"`
	Ready            bool             `json:"ready"`
	LeaderID         string           `json:"leader_id"`
	LeaderPeerAddr   string           `json:"leader_peer_addr"`
	LeaderClientAddr string           `json:"leader_client_addr"`
	Term             uint64           `json:"term"`
	CommitIndex      uint64           `json:"commit_index"`
	AppliedIndex     uint64           `json:"applied_index"`
	LastLogIndex     uint64           `json:"last_log_index"`
	ClusterID        string           `json:"cluster_id"`
	LastContactMS    int64            `json:"last_contact_ms"`
	Members          []MemberResponse `json:"members"`
	// MembersError is set when the member list could not be read.
	MembersError string `json:"members_error,omitempty"`
	// Faces holds each API face's own status (the SQL database's size and
	// applied index, the resource count, ...), keyed by face name.
	Faces map[string]any `json:"faces,omitempty"`
	// DiskFull is true while the data dir's file system is full: the
	// member refuses writes until space returns (and /readyz says 503
	// disk_full); DiskFullErrors counts writes refused for space.
	DiskFull       bool   `json:"disk_full"`
	DiskFullErrors uint64 `json:"disk_full_errors"`
	// Version is the member's build (Config.Version), for
	// concord status --cluster during a rolling upgrade.
	Version string `json:"version,omitempty"`
}

// MemberResponse describes one member in GET /v1/status and GET /v1/members.
type MemberResponse struct {
	ID         string `json:"id"`
	PeerAddr   string `json:"peer_addr"`
	ClientAddr string `json:"client_addr"`
	Voter      bool   `json:"voter"`
	Leader     bool   `json:"leader"`
	// Reachable is false if the member did not answer a status request in
	// time; State is then "Unknown" and the indexes are zero.
	Reachable    bool   `json:"reachable"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
}

// MembersResponse is the body of GET /v1/members.
type MembersResponse struct {
	Members []MemberResponse `json:"members"`
}

// OKResponse is the body of a successful change and of the probes.
type OKResponse struct {
	Status string `json:"status"`
}

// Handler returns the HTTP API. It is what Serve serves on HTTP/1.1
// connections; tests may use it directly.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	var patterns []string
	routeOf := func(api, pattern string, h http.Handler) {
		patterns = append(patterns, pattern)
		mux.Handle(pattern, s.metrics.instrument(api, pattern, slowLog(s.cfg.Logger, pattern, SlowRequest, s.guard(pattern, h))))
	}
	route := func(pattern string, h http.Handler) { routeOf(routeAPI(pattern), pattern, h) }
	route("GET /healthz", http.HandlerFunc(s.healthz))
	route("GET /readyz", http.HandlerFunc(s.readyz))
	route("GET /v1/status", http.HandlerFunc(s.status))
	route("GET /v1/members", http.HandlerFunc(s.listMembers))
	route("POST /v1/members", http.HandlerFunc(s.addMember))
	route("DELETE /v1/members/{id}", http.HandlerFunc(s.removeMember))
	route("POST /v1/leader/transfer", http.HandlerFunc(s.transferLeader))
	if s.cfg.Auth != nil {
		route("POST /v1/auth/authenticate", http.HandlerFunc(s.authenticate))
	}
	for pattern, h := range s.kvRoutes() {
		route(pattern, h)
	}
	for pattern, h := range s.snapshotRoutes() {
		route(pattern, h)
	}
	if s.cfg.Pprof {
		route(pprofRoute, http.HandlerFunc(servePprof))
	}
	for _, ext := range s.cfg.Extensions {
		for _, pattern := range slices.Sorted(maps.Keys(ext.Routes)) {
			routeOf(ext.Name, pattern, ext.Routes[pattern])
		}
	}
	patterns = append(patterns, "GET /metrics")
	served := slices.Clone(patterns)
	s.routes.Store(&served)
	mux.Handle("GET /metrics", s.guard("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{s.cfg.Logger}})))
	for path, allowed := range routeMethods(patterns) {
		mux.HandleFunc(path, methodNotAllowed(allowed))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such endpoint: %s", r.URL.Path)})
	})
	return mux
}

func methodNotAllowed(allowed string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		writeError(w, &apiError{http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allowed)})
	}
}

// healthz answers 200 whenever the process serves requests.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, OKResponse{Status: "ok"})
}

// readyz answers 200 once the node has caught up with the log (Ready) and
// knows a leader, 503 with the reason otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.readiness(); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, OKResponse{Status: "ready"})
}

func (s *Server) readiness() error {
	n := s.cfg.Node
	if n.Removed() {
		return fmt.Errorf("this node was removed from the cluster: %w", node.ErrRemoved)
	}
	select {
	case <-n.Ready():
	default:
		return &apiError{http.StatusServiceUnavailable, CodeNotReady, "node has not caught up with the cluster's log yet"}
	}
	if _, _, err := n.Leader(); err != nil {
		return fmt.Errorf("no leader known: %w", err)
	}
	if n.Status().DiskFull {
		return &apiError{http.StatusServiceUnavailable, CodeDiskFull, "the data dir's file system is full: writes refused, local reads served"}
	}
	return nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.cfg.Node.Status()
	resp := StatusResponse{
		ID: st.ID, State: st.State, LeaderID: st.LeaderID, LeaderPeerAddr: st.Leader,
		Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
		LastLogIndex: st.LastLogIndex, ClusterID: formatClusterID(st.ClusterID),
		LastContactMS: st.LastContact.Milliseconds(), Ready: s.readiness() == nil,
		DiskFull: st.DiskFull, DiskFullErrors: st.DiskFullErrors,
		Version: s.cfg.Version, Members: []MemberResponse{},
	}
	ms, err := s.cfg.Node.Members(r.Context())
	if err != nil {
		resp.MembersError = err.Error()
	}
	for _, m := range ms {
		resp.Members = append(resp.Members, memberResponse(m))
		if m.ID == st.LeaderID {
			resp.LeaderClientAddr = m.ClientAddr
		}
	}
	for _, ext := range s.cfg.Extensions {
		if ext.Status != nil {
			if resp.Faces == nil {
				resp.Faces = map[string]any{}
			}
			resp.Faces[ext.Name] = ext.Status(r.Context())
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := s.cfg.Node.Members(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp := MembersResponse{Members: make([]MemberResponse, 0, len(ms))}
	for _, m := range ms {
		resp.Members = append(resp.Members, memberResponse(m))
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) {
	req, err := decodeMemberAdd(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	add := s.cfg.Node.AddVoter
	if !req.IsVoter() {
		add = s.cfg.Node.AddNonVoter
	}
	if err := add(ctx, req.ID, req.PeerAddr, req.ClientAddr); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, OKResponse{Status: "added"})
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := validateID(id); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	if err := s.cfg.Node.RemoveServer(ctx, id); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, OKResponse{Status: "removed"})
}

func (s *Server) transferLeader(w http.ResponseWriter, r *http.Request) {
	req, err := decodeTransfer(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	if err := s.cfg.Node.TransferLeadership(ctx, req.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, OKResponse{Status: "transferred"})
}

func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
}

func memberResponse(m node.Member) MemberResponse {
	return MemberResponse{
		ID: m.ID, PeerAddr: m.PeerAddr, ClientAddr: m.ClientAddr, Voter: m.Voter, Leader: m.Leader,
		Reachable: m.Reachable, State: m.Status.State, Term: m.Status.Term,
		CommitIndex: m.Status.CommitIndex, AppliedIndex: m.Status.AppliedIndex,
	}
}

// formatClusterID renders the cluster id as 16 hex digits (JSON numbers
// lose precision above 2^53), or "" before the first leader chose it.
func formatClusterID(id uint64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprintf("%016x", id)
}
