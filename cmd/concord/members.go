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
  concord members remove n4`,
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
	cmd.AddCommand(newMembersAddCmd(), newMembersRemoveCmd())
	return cmd
}

func newMembersAddCmd() *cobra.Command {
	o := &clientOptions{}
	var clientAddr string
	var nonVoter bool
	cmd := &cobra.Command{
		Use:   "add ID PEER_ADDR",
		Short: "Add a member (POST /v1/members)",
		Long: `Add a member to the cluster's configuration. Start the new node afterwards
with no --bootstrap, --join or --initial-cluster: it waits to be contacted.
(Or start it with --join, which does this for it.)`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			voter := !nonVoter
			req := server.MemberAddRequest{ID: args[0], PeerAddr: args[1], ClientAddr: clientAddr, Voter: &voter}
			return change(cmd, o, "POST", "/v1/members", req, fmt.Sprintf("added member %s", args[0]))
		},
	}
	o.addFlags(cmd, false)
	cmd.Flags().StringVar(&clientAddr, "client-addr", "", "the new member's client address, for status and members")
	cmd.Flags().BoolVar(&nonVoter, "non-voter", false, "add a non-voting member (receives the log, does not vote)")
	return cmd
}

func newMembersRemoveCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a member (DELETE /v1/members/ID)",
		Long: `Remove a member from the cluster. A removed node stops taking part; if it is
restarted on its old data it exits and says it was removed. Wipe its data dir
to join it again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			return change(cmd, o, "DELETE", "/v1/members/"+args[0], nil, fmt.Sprintf("removed member %s", args[0]))
		},
	}
	o.addFlags(cmd, false)
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
