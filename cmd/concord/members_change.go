package main

import (
	"context"
	"fmt"

	"github.com/concord-db/concord/server"
	"github.com/spf13/cobra"
)

// newMembersPromoteCmd is concord members promote ID: a learner (non-voter)
// becomes a voter (etcdctl member promote).
func newMembersPromoteCmd() *cobra.Command {
	o := &clientOptions{}
	var force bool
	cmd := &cobra.Command{
		Use:   "promote ID",
		Short: "Make a learner (non-voter) a voter",
		Long: `Promote a learner to a voter (POST /v1/members with its id and peer address).
Refused if the voters that are up now, the learner counted if it is up and
caught up, would not be a majority of the new voter set; --force skips the check.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
			defer cancel()
			cs, err := fetchCluster(ctx, o)
			if err != nil {
				return err
			}
			m, ok := findMember(cs, args[0])
			if !ok {
				return fmt.Errorf("no member %q", args[0])
			}
			if m.Voter {
				return fmt.Errorf("member %s is already a voter", m.ID)
			}
			if !force {
				up := 0
				if m.Error == "" && m.Ready {
					up = 1
				}
				if err := quorumCheck(cs, 1, up); err != nil {
					return err
				}
			}
			voter := true
			req := server.MemberAddRequest{ID: m.ID, PeerAddr: m.PeerAddr, ClientAddr: m.ClientAddr, Voter: &voter}
			return change(cmd, o, "POST", "/v1/members", req, fmt.Sprintf("promoted member %s", m.ID))
		},
	}
	o.addFlags(cmd, false)
	cmd.Flags().BoolVar(&force, "force", false, "skip the check that the change keeps a quorum of the members that are up")
	return cmd
}

// newMembersTransferCmd is concord members transfer-leader [ID]
// (etcdctl move-leader).
func newMembersTransferCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "transfer-leader [ID]",
		Short: "Hand leadership to a voter (POST /v1/leader/transfer)",
		Long: `Hand leadership to the voter ID, or without ID to the most up-to-date voter
raft picks. Before maintenance on the leader's machine, this avoids an election
timeout's worth of unavailability.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			req := server.TransferRequest{}
			if len(args) == 1 {
				req.ID = args[0]
			}
			return change(cmd, o, "POST", "/v1/leader/transfer", req, "leadership transferred")
		},
	}
	o.addFlags(cmd, false)
	return cmd
}

// strictCheck fetches the cluster and runs quorumCheck.
func strictCheck(o *clientOptions, delta, upDelta int) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cs, err := fetchCluster(ctx, o)
	if err != nil {
		return err
	}
	return quorumCheck(cs, delta, upDelta)
}

// strictRemoveCheck is the strict check for removing id: a voter leaves the
// voter set, and the up count too if it is up. Removing a learner or an
// unknown member is left to the server.
func strictRemoveCheck(o *clientOptions, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cs, err := fetchCluster(ctx, o)
	if err != nil {
		return err
	}
	m, ok := findMember(cs, id)
	if !ok || !m.Voter {
		return nil
	}
	up := 0
	if m.Error == "" && m.Ready {
		up = -1
	}
	return quorumCheck(cs, -1, up)
}

func findMember(cs clusterState, id string) (memberState, bool) {
	for _, m := range cs.Members {
		if m.ID == id {
			return m, true
		}
	}
	return memberState{}, false
}
