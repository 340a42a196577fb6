package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/concord-db/concord/server"
	"github.com/spf13/cobra"
)

func newStatusCmd() *cobra.Command {
	o := &clientOptions{}
	var cluster bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a node's raft state and the cluster's members",
		Long: `Show the raft state of the first endpoint that answers (GET /v1/status)
and every member as that node sees it. With --cluster, ask every member
for its own status, one row per member (etcdctl endpoint status --cluster),
and exit 1 if any member is unhealthy.`,
		Example: `  concord status
  concord status --endpoints 10.0.0.1:2379,10.0.0.2:2379 -o json
  concord status --cluster`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if cluster {
				return runCluster(cmd, o, true)
			}
			ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
			defer cancel()
			var st server.StatusResponse
			raw, err := o.client().do(ctx, "GET", "/v1/status", nil, &st)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			return printStatus(cmd.OutOrStdout(), st)
		},
	}
	o.addFlags(cmd, true)
	cmd.Flags().BoolVar(&cluster, "cluster", false, "ask every member for its own status, one row per member; exit 1 if any is unhealthy")
	return cmd
}

func printStatus(w io.Writer, st server.StatusResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tREADY\tLEADER\tTERM\tCOMMIT\tAPPLIED\tCLUSTER\tVERSION")
	leader := st.LeaderID
	if leader == "" {
		leader = "-"
	}
	fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%d\t%d\t%d\t%s\t%s\n", st.ID, st.State, st.Ready, leader, st.Term,
		st.CommitIndex, st.AppliedIndex, orDash(st.ClusterID), orDash(st.Version))
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case st.DiskFull:
		fmt.Fprintf(w, "disk: FULL: writes refused until the data dir has space again (%d writes refused)\n", st.DiskFullErrors)
	case st.DiskFullErrors > 0:
		fmt.Fprintf(w, "disk: ok (%d writes refused for space since start)\n", st.DiskFullErrors)
	}
	printFaces(w, st.Faces)
	fmt.Fprintln(w)
	if st.MembersError != "" {
		fmt.Fprintf(w, "members: %s\n", st.MembersError)
		return nil
	}
	return printMembers(w, st.Members)
}

// printMembers writes members as a table.
func printMembers(w io.Writer, ms []server.MemberResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPEER ADDR\tCLIENT ADDR\tVOTER\tLEADER\tREACHABLE\tSTATE\tTERM\tAPPLIED")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%t\t%t\t%s\t%d\t%d\n", m.ID, m.PeerAddr, orDash(m.ClientAddr),
			m.Voter, m.Leader, m.Reachable, m.State, m.Term, m.AppliedIndex)
	}
	return tw.Flush()
}

// printFaces writes each face's status section on a line of its own,
// "sql: applied_index=12 size_bytes=4096", faces and fields sorted.
func printFaces(w io.Writer, faces map[string]any) {
	for _, name := range slices.Sorted(maps.Keys(faces)) {
		fmt.Fprintf(w, "%s:", name)
		if fields, ok := faces[name].(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(fields)) {
				fmt.Fprintf(w, " %s=%s", k, statusValue(fields[k]))
			}
		} else {
			fmt.Fprintf(w, " %s", statusValue(faces[name]))
		}
		fmt.Fprintln(w)
	}
}

// statusValue renders a JSON value of a status section compactly.
func statusValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "-"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
