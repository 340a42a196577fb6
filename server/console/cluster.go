package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/concord-db/concord/node"
)

// Health thresholds of a member that answers: past them it is degraded.
const (
	// LagWarn is how many entries a member's applied index may trail the
	// highest commit index any member reported.
	LagWarn = 1000
	// ContactWarn is how long a follower may go without hearing from the
	// leader (heartbeats come every fraction of a second).
	ContactWarn = 5 * time.Second
	// membersTimeout bounds the peer status calls of one cluster view.
	membersTimeout = 3 * time.Second
)

// Health of a member in the cluster view.
const (
	HealthHealthy  = "healthy"
	HealthDegraded = "degraded"
	HealthDown     = "down"
)

// ClusterView is the body of GET /v1/console/cluster: the cluster as the
// member asked sees it, each member's state as that member reported it.
type ClusterView struct {
	// Member is the id of the member that answered.
	Member    string `json:"member"`
	ClusterID string `json:"cluster_id"`
	// Leader is the leader the answering member knows ("" if none).
	Leader string `json:"leader"`
	Term   uint64 `json:"term"`
	// Healthy: a leader is known and every member is healthy.
	Healthy bool         `json:"healthy"`
	Members []MemberView `json:"members"`
	Alarms  []AlarmView  `json:"alarms"`
	// MembersError is why the member list could not be read.
	MembersError string `json:"members_error,omitempty"`
}

// MemberView is one member in the cluster view.
type MemberView struct {
	ID         string `json:"id"`
	PeerAddr   string `json:"peer_addr"`
	ClientAddr string `json:"client_addr"`
	Voter      bool   `json:"voter"`
	// Self is the member that answered.
	Self bool `json:"self"`
	// Reachable is false if the member did not answer its status call;
	// its state is then "Unknown" and the numbers zero.
	Reachable    bool   `json:"reachable"`
	State        string `json:"state"`
	Leader       string `json:"leader"` // the leader this member follows
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LastLogIndex uint64 `json:"last_log_index"`
	// Lag is how far the applied index trails the highest commit index
	// any member reported.
	Lag uint64 `json:"lag"`
	// LastContactMS is how long ago this follower last heard from the
	// leader; 0 on the leader, -1 when unknown.
	LastContactMS int64 `json:"last_contact_ms"`
	// DiskFull is known for the answering member only.
	DiskFull bool     `json:"disk_full"`
	Alarms   []string `json:"alarms"`
	// Health is healthy, degraded or down; Problems says why not healthy.
	Health   string   `json:"health"`
	Problems []string `json:"problems"`
}

// AlarmView is one raised alarm; Member is "" if no member has its id.
type AlarmView struct {
	Member   string `json:"member"`
	MemberID string `json:"member_id"` // etcd's, in hex as etcdctl prints it
	Alarm    string `json:"alarm"`
}

func (c *Console) cluster(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), membersTimeout)
	defer cancel()
	st := c.cfg.Node.Status()
	view := ClusterView{Member: st.ID, Leader: st.LeaderID, Term: st.Term, Members: []MemberView{}, Alarms: []AlarmView{},
		ClusterID: fmt.Sprintf("%016x", st.ClusterID)}
	ms, err := c.cfg.Node.Members(ctx)
	if err != nil {
		view.MembersError = err.Error()
	}
	var alarms []Alarm
	if c.cfg.Alarms != nil {
		alarms = c.cfg.Alarms()
	}
	view.Members, view.Alarms = buildMembers(st, ms, alarms, c.cfg.MemberID)
	view.Healthy = err == nil && view.Leader != "" && len(view.Members) > 0
	for _, m := range view.Members {
		view.Healthy = view.Healthy && m.Health == HealthHealthy
	}
	writeJSON(w, http.StatusOK, view)
}

// buildMembers turns the node's member list into the view's rows and
// names each alarm's member. It is pure, for the tests.
func buildMembers(self node.Status, ms []node.Member, alarms []Alarm, memberID func(string) uint64) ([]MemberView, []AlarmView) {
	rows := make([]MemberView, 0, len(ms))
	var maxCommit uint64
	for _, m := range ms {
		if m.Reachable {
			maxCommit = max(maxCommit, m.Status.CommitIndex)
		}
	}
	byID := map[uint64]int{}
	for i, m := range ms {
		s := m.Status
		v := MemberView{ID: m.ID, PeerAddr: m.PeerAddr, ClientAddr: m.ClientAddr, Voter: m.Voter, Self: m.ID == self.ID,
			Reachable: m.Reachable, State: s.State, Leader: s.LeaderID, Term: s.Term, CommitIndex: s.CommitIndex,
			AppliedIndex: s.AppliedIndex, LastLogIndex: s.LastLogIndex, LastContactMS: -1, Alarms: []string{}}
		if !m.Reachable {
			v.State = "Unknown"
		} else {
			if s.AppliedIndex < maxCommit {
				v.Lag = maxCommit - s.AppliedIndex
			}
			if s.State == "Leader" {
				v.LastContactMS = 0
			} else if s.LastContact > 0 {
				v.LastContactMS = s.LastContact.Milliseconds()
			}
		}
		if v.Self {
			v.DiskFull = self.DiskFull
		}
		if memberID != nil {
			byID[memberID(m.ID)] = i
		}
		rows = append(rows, v)
	}
	views := make([]AlarmView, 0, len(alarms))
	for _, a := range alarms {
		av := AlarmView{MemberID: strconv.FormatUint(a.MemberID, 16), Alarm: a.Name}
		if i, ok := byID[a.MemberID]; ok {
			av.Member = rows[i].ID
			rows[i].Alarms = append(rows[i].Alarms, a.Name)
		}
		views = append(views, av)
	}
	for i := range rows {
		rows[i].Health, rows[i].Problems = health(rows[i])
	}
	return rows, views
}

// health decides a member's health from its row.
func health(m MemberView) (string, []string) {
	if !m.Reachable {
		return HealthDown, []string{"did not answer its status call"}
	}
	problems := []string{}
	if m.State != "Leader" && m.State != "Follower" {
		problems = append(problems, "state "+m.State)
	}
	if m.Leader == "" {
		problems = append(problems, "knows no leader")
	}
	if m.Lag > LagWarn {
		problems = append(problems, fmt.Sprintf("applied index %d entries behind", m.Lag))
	}
	if m.State == "Follower" && m.LastContactMS > ContactWarn.Milliseconds() {
		problems = append(problems, fmt.Sprintf("last heard from the leader %s ago",
			(time.Duration(m.LastContactMS)*time.Millisecond).Round(100*time.Millisecond)))
	}
	if m.DiskFull {
		problems = append(problems, "data dir's file system full")
	}
	for _, a := range m.Alarms {
		problems = append(problems, "alarm "+a)
	}
	slices.Sort(problems)
	if len(problems) > 0 {
		return HealthDegraded, problems
	}
	return HealthHealthy, problems
}
