package main

import (
	"context"
	"fmt"

	"github.com/concord-db/concord/server"
	"github.com/spf13/cobra"
)

func newMembersCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "members",
		Short: "List, add and remove cluster members",
		Long:  `Without a subcommand, list the cluster's members (GET /v1/members).`,
		Example: `  concord members
  concord members -o json
  concord members add n4 10.0.0.4:2380 --client-addr 10.0.0.4:2379
  concord members add n4 10.0.0.4:2380 --learner
  concord members promote n4
  concord members remove n4
  concord members transfer-leader n2`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
			defer cancel()
			var ms server.MembersResponse
			raw, err := o.client().do(ctx, "GET", "/v1/members", nil, &ms)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			return printMembers(cmd.OutOrStdout(), ms.Members)
		},
	}
	o.addFlags(cmd, true)
	cmd.AddCommand(newMembersAddCmd(), newMembersRemoveCmd(), newMembersPromoteCmd(), newMembersTransferCmd())
	return cmd
}

func newMembersAddCmd() *cobra.Command {
	o := &clientOptions{}
	var clientAddr string
	var nonVoter, force bool
	cmd := &cobra.Command{
		Use:   "add ID PEER_ADDR",
		Short: "Add a member (POST /v1/members)",
		Long: `Add a member to the cluster's configuration. Start the new node afterwards
with no --bootstrap, --join or --initial-cluster: it waits to be contacted.
(Or start it with --join, which does this for it.)

A voter is added only if the voters that are up now stay a majority with the
new voter counted as down (etcd's strict reconfiguration check); --force skips
the check. A learner (--learner) never changes the quorum.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			voter := !nonVoter
			if voter && !force {
				if err := strictCheck(o, 1, 0); err != nil {
					return err
				}
			}
			req := server.MemberAddRequest{ID: args[0], PeerAddr: args[1], ClientAddr: clientAddr, Voter: &voter}
			return change(cmd, o, "POST", "/v1/members", req, fmt.Sprintf("added member %s", args[0]))
		},
	}
	o.addFlags(cmd, false)
	cmd.Flags().StringVar(&clientAddr, "client-addr", "", "the new member's client address, for status and members")
	cmd.Flags().BoolVar(&nonVoter, "non-voter", false, "add a non-voting member (receives the log, does not vote)")
	cmd.Flags().BoolVar(&nonVoter, "learner", false, "add a learner (etcd's name for --non-voter); promote it once it has caught up")
	cmd.Flags().BoolVar(&force, "force", false, "skip the check that the change keeps a quorum of the members that are up")
	return cmd
}

func newMembersRemoveCmd() *cobra.Command {
	o := &clientOptions{}
	var force bool
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a member (DELETE /v1/members/ID)",
		Long: `Remove a member from the cluster. A removed node stops taking part; if it is
restarted on its old data it exits and says it was removed. Wipe its data dir
to join it again.

The removal is refused if the voters that are up now would not be a majority
of the remaining voters (etcd's strict reconfiguration check); --force skips
the check, for removing dead members after a disaster.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if !force {
				if err := strictRemoveCheck(o, args[0]); err != nil {
					return err
				}
			}
			return change(cmd, o, "DELETE", "/v1/members/"+args[0], nil, fmt.Sprintf("removed member %s", args[0]))
		},
	}
	o.addFlags(cmd, false)
	cmd.Flags().BoolVar(&force, "force", false, "skip the check that the change keeps a quorum of the members that are up")
	return cmd
}

func change(cmd *cobra.Command, o *clientOptions, method, path string, in any, done string) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if _, err := o.client().do(ctx, method, path, in, nil); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), done)
	return nil
}
