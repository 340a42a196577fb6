package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"

	"github.com/concord-db/concord/server"
	"github.com/spf13/cobra"
)

// memberState is one member as concord status --cluster sees it: its entry
// in the membership list and the status its own client port reported
// (etcdctl endpoint status --cluster asks every member the same way).
type memberState struct {
	ID         string `json:"id"`
	ClientAddr string `json:"client_addr"`
	PeerAddr   string `json:"peer_addr"`
	Voter      bool   `json:"voter"`
	// Leader is whether the member itself says it is the leader.
	Leader       bool   `json:"leader"`
	State        string `json:"state"`
	Ready        bool   `json:"ready"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	// Lag is how many entries the member's applied index is behind the
	// highest commit index any member reported.
	Lag uint64 `json:"lag"`
	// DBSizeBytes is the SQL face's database size when the member reports
	// one (0 otherwise).
	DBSizeBytes int64    `json:"db_size_bytes"`
	Alarms      []string `json:"alarms"`
	// Version is the member's build, as its status reports it ("" from
	// members that predate the field).
	Version string `json:"version"`
	// Healthy: the member answered, is ready and knows a leader, and has
	// no alarm. Error says why not when it did not answer.
	Healthy bool   `json:"healthy"`
	Error   string `json:"error,omitempty"`
}

// clusterState is the body of concord status --cluster -o json.
type clusterState struct {
	Healthy bool          `json:"healthy"`
	Leader  string        `json:"leader"`
	Members []memberState `json:"members"`
}

// fetchCluster reads the member list from the first endpoint that answers
// and then GET /v1/status from every member's own client address, in
// parallel. A member that does not answer is reported unhealthy, not an
// error: only a failure to read the member list is.
func fetchCluster(ctx context.Context, o *clientOptions) (clusterState, error) {
	var ms server.MembersResponse
	if _, err := o.client().do(ctx, "GET", "/v1/members", nil, &ms); err != nil {
		return clusterState{}, fmt.Errorf("reading the member list: %w", err)
	}
	out := clusterState{Members: make([]memberState, len(ms.Members))}
	var wg sync.WaitGroup
	for i, m := range ms.Members {
		out.Members[i] = memberState{ID: m.ID, ClientAddr: m.ClientAddr, PeerAddr: m.PeerAddr, Voter: m.Voter, State: "Unknown", Alarms: []string{}}
		if m.ClientAddr == "" {
			out.Members[i].Error = "no client address recorded"
			continue
		}
		wg.Add(1)
		go func(ms *memberState) {
			defer wg.Done()
			one := *o
			one.endpoints = []string{ms.ClientAddr}
			var st memberStatus
			if _, err := one.client().do(ctx, "GET", "/v1/status", nil, &st); err != nil {
				ms.Error = err.Error()
				return
			}
			ms.fill(st)
		}(&out.Members[i])
	}
	wg.Wait()
	var maxCommit uint64
	for _, m := range out.Members {
		maxCommit = max(maxCommit, m.CommitIndex)
	}
	out.Healthy = len(out.Members) > 0
	for i := range out.Members {
		m := &out.Members[i]
		if m.Error == "" && m.AppliedIndex < maxCommit {
			m.Lag = maxCommit - m.AppliedIndex
		}
		if m.Leader {
			out.Leader = m.ID
		}
		out.Healthy = out.Healthy && m.Healthy
	}
	if out.Leader == "" {
		out.Healthy = false
	}
	return out, nil
}

// memberStatus is GET /v1/status as this client reads it: disk_full is
// decoded when the member reports it (members that predate it do not).
type memberStatus struct {
	server.StatusResponse
	DiskFull bool `json:"disk_full"`
}

// fill copies what a member's own status says.
func (m *memberState) fill(st memberStatus) {
	m.State, m.Ready, m.Term, m.Version = st.State, st.Ready, st.Term, st.Version
	m.CommitIndex, m.AppliedIndex = st.CommitIndex, st.AppliedIndex
	m.Leader = st.LeaderID != "" && st.LeaderID == st.ID
	if st.DiskFull {
		m.Alarms = append(m.Alarms, "DISK_FULL")
	}
	if sql, ok := st.Faces["sql"].(map[string]any); ok {
		if n, ok := sql["size_bytes"].(float64); ok {
			m.DBSizeBytes = int64(n)
		}
	}
	m.Healthy = st.Ready && st.LeaderID != "" && len(m.Alarms) == 0
}

// printCluster writes the cluster state as one table row per member.
func printCluster(w io.Writer, cs clusterState) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tENDPOINT\tVERSION\tVOTER\tLEADER\tSTATE\tTERM\tCOMMIT\tAPPLIED\tLAG\tDB SIZE\tALARMS\tHEALTH")
	for _, m := range cs.Members {
		leader, health, alarms := "", "healthy", "-"
		if m.Leader {
			leader = "*"
		}
		if len(m.Alarms) > 0 {
			b, _ := json.Marshal(m.Alarms)
			alarms = string(b)
		}
		if m.Error != "" {
			health = "unreachable: " + m.Error
		} else if !m.Healthy {
			health = "unhealthy"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", m.ID, orDash(m.ClientAddr), orDash(m.Version), m.Voter, leader,
			m.State, m.Term, m.CommitIndex, m.AppliedIndex, m.Lag, m.DBSizeBytes, alarms, health)
	}
	return tw.Flush()
}

// quorumCheck is etcd's strict reconfiguration check: it refuses a
// membership change after which the voters that are up now would not be a
// majority of the new voter set. delta is the change in voters (+1 add or
// promote, -1 remove); upDelta is the change in up voters (a removed voter
// that is up, or a promoted learner that is up, counts; an added member is
// assumed not started yet, as etcd assumes).
func quorumCheck(cs clusterState, delta, upDelta int) error {
	voters, up := 0, 0
	for _, m := range cs.Members {
		if m.Voter {
			voters++
			if m.Error == "" && m.Ready {
				up++
			}
		}
	}
	if voters == 1 && up == 1 && delta == 1 {
		// As etcd: a one-member cluster (one restored from a backup or
		// forced with --force-new-cluster) may always add its second voter.
		return nil
	}
	voters, up = voters+delta, up+upDelta
	if need := voters/2 + 1; up < need {
		return &exitError{code: exitFailure, err: fmt.Errorf(
			"refused: after this change %d of %d voters would be up, fewer than the quorum of %d (use --force to make the change anyway)", up, voters, need)}
	}
	return nil
}

// newHealthCmd is concord health [--cluster], like etcdctl endpoint health.
func newHealthCmd() *cobra.Command {
	o := &clientOptions{}
	var cluster bool
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that members are ready and know a leader; exit 1 if not",
		Long: `Without --cluster, check the first endpoint that answers (GET /readyz).
With --cluster, check every member of the cluster through its own client port,
print one line per member, and exit 1 if any member is unhealthy (unreachable,
not caught up, no leader known, or an alarm raised).`,
		Example: `  concord health
  concord health --cluster -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if cluster {
				return runCluster(cmd, o, false)
			}
			ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
			defer cancel()
			raw, err := o.client().do(ctx, "GET", "/readyz", nil, nil)
			if err != nil {
				return &exitError{code: exitFailure, err: fmt.Errorf("unhealthy: %w", err)}
			}
			if o.output == "json" {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "healthy")
			return nil
		},
	}
	o.addFlags(cmd, true)
	cmd.Flags().BoolVar(&cluster, "cluster", false, "check every member, not only the first endpoint")
	return cmd
}

// runCluster prints the cluster's state (table: full rows for status, one
// health line per member for health) and fails if it is unhealthy.
func runCluster(cmd *cobra.Command, o *clientOptions, full bool) error {
	if err := o.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cs, err := fetchCluster(ctx, o)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	switch {
	case o.output == "json":
		raw, err := json.Marshal(cs)
		if err != nil {
			return err
		}
		if err := printJSON(w, raw); err != nil {
			return err
		}
	case full:
		if err := printCluster(w, cs); err != nil {
			return err
		}
	default:
		for _, m := range cs.Members {
			switch {
			case m.Error != "":
				fmt.Fprintf(w, "%s (%s) is unhealthy: %s\n", m.ID, orDash(m.ClientAddr), m.Error)
			case !m.Healthy:
				fmt.Fprintf(w, "%s (%s) is unhealthy: state %s, ready %t, alarms %v\n", m.ID, m.ClientAddr, m.State, m.Ready, m.Alarms)
			default:
				fmt.Fprintf(w, "%s (%s) is healthy\n", m.ID, m.ClientAddr)
			}
		}
	}
	if !cs.Healthy {
		return &exitError{code: exitFailure, err: fmt.Errorf("cluster is unhealthy (leader %q)", cs.Leader)}
	}
	return nil
}
