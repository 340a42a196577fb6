package sqlapi

import (
	"net/http"
	"slices"
	"strings"
)

// clusterRoutes are rqlite's /status and /nodes, in the subset rqlite's
// clients read to find the members: gorqlite reads the leader's id from
// /status and then every member's api_addr, leadership and reachability
// from /nodes.
func (a *API) clusterRoutes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /status": http.HandlerFunc(a.status),
		"GET /nodes":  http.HandlerFunc(a.nodes),
	}
}

type statusBody struct {
	Store statusStore `json:"store"`
}

type statusStore struct {
	NodeID string       `json:"node_id"`
	Leader statusLeader `json:"leader"`
}

type statusLeader struct {
	NodeID string `json:"node_id"`
	Addr   string `json:"addr"`
}

// status answers rqlite's /status: this member's id and the leader's. With
// no leader known, the leader's id is empty, which rqlite's clients read as
// "not ready".
func (a *API) status(w http.ResponseWriter, r *http.Request) {
	if err := onlyFlags(r.URL.Query(), "pretty"); err != nil {
		a.fail(w, r, err)
		return
	}
	body := statusBody{Store: statusStore{NodeID: a.cfg.Cluster.ID()}}
	if id, addr, err := a.cfg.Cluster.Leader(); err == nil {
		body.Store.Leader = statusLeader{NodeID: id, Addr: addr}
	}
	writeJSONValue(w, http.StatusOK, body, r.URL.Query().Has("pretty"))
}

type nodeBody struct {
	ID        string `json:"id"`
	APIAddr   string `json:"api_addr"`
	Addr      string `json:"addr"`
	Voter     bool   `json:"voter"`
	Reachable bool   `json:"reachable"`
	Leader    bool   `json:"leader"`
}

// nodes answers rqlite's /nodes: a map of member id to its HTTP API
// address (a URL), raft address, vote, reachability and leadership.
// ?nonvoters is accepted (every member is listed always); ?ver=2 gives
// rqlite 8's {"nodes": [...]} form.
func (a *API) nodes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := onlyFlags(q, "pretty", "nonvoters", "ver", "timeout"); err != nil {
		a.fail(w, r, err)
		return
	}
	members, err := a.cfg.Cluster.Members(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	list := make([]nodeBody, 0, len(members))
	for _, m := range members {
		api := m.ClientAddr
		if api != "" && !strings.Contains(api, "://") {
			api = scheme + api
		}
		list = append(list, nodeBody{ID: m.ID, APIAddr: api, Addr: m.PeerAddr, Voter: m.Voter, Reachable: m.Reachable, Leader: m.Leader})
	}
	slices.SortFunc(list, func(x, y nodeBody) int { return strings.Compare(x.ID, y.ID) })
	pretty := q.Has("pretty")
	if q.Get("ver") == "2" {
		writeJSONValue(w, http.StatusOK, struct {
			Nodes []nodeBody `json:"nodes"`
		}{list}, pretty)
		return
	}
	byID := make(map[string]nodeBody, len(list))
	for _, n := range list {
		byID[n.ID] = n
	}
	writeJSONValue(w, http.StatusOK, byID, pretty)
}
