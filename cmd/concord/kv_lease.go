package main

import (
	"context"
	"fmt"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func newKVLeaseCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "lease", Short: "grant, revoke, keep alive and inspect leases"}
	cmd.AddCommand(newLeaseGrantCmd(), newLeaseRevokeCmd(), newLeaseKeepAliveCmd(), newLeaseTTLCmd(), newLeaseListCmd())
	return cmd
}

// parseLeaseID reads a lease ID in hex, as etcdctl prints and reads them.
func parseLeaseID(s string) (clientv3.LeaseID, error) {
	id, err := strconv.ParseInt(s, 16, 64)
	if err != nil {
		return 0, usagef("lease ID %q is not hexadecimal", s)
	}
	return clientv3.LeaseID(id), nil
}

func newLeaseGrantCmd() *cobra.Command {
	var o kvOptions
	cmd := &cobra.Command{
		Use:   "grant TTL",
		Short: "grant a lease of TTL seconds; prints its hex ID",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ttl, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || ttl <= 0 {
				return usagef("TTL %q is not a positive number of seconds", args[0])
			}
			return o.withClient(cmd, func(ctx context.Context, cli *clientv3.Client) error {
				resp, err := cli.Grant(ctx, ttl)
				if err != nil {
					return err
				}
				if o.output == "json" {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"id": fmt.Sprintf("%x", resp.ID), "ttl": resp.TTL})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "lease %x granted with TTL(%ds)\n", resp.ID, resp.TTL)
				return nil
			})
		},
	}
	o.addFlags(cmd, "simple or json")
	return cmd
}

func newLeaseRevokeCmd() *cobra.Command {
	var o kvOptions
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "revoke a lease and delete its keys",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseLeaseID(args[0])
			if err != nil {
				return err
			}
			return o.withClient(cmd, func(ctx context.Context, cli *clientv3.Client) error {
				if _, err := cli.Revoke(ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "lease %x revoked\n", id)
				return nil
			})
		},
	}
	o.addFlags(cmd, "")
	return cmd
}

func newLeaseKeepAliveCmd() *cobra.Command {
	var (
		o    kvOptions
		once bool
	)
	cmd := &cobra.Command{
		Use:   "keepalive ID",
		Short: "keep a lease alive until interrupted (or once, with --once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseLeaseID(args[0])
			if err != nil {
				return err
			}
			cli, err := o.connect()
			if err != nil {
				return err
			}
			defer cli.Close()
			out := cmd.OutOrStdout()
			if once {
				ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
				defer cancel()
				resp, err := cli.KeepAliveOnce(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "lease %x keepalived with TTL(%d)\n", resp.ID, resp.TTL)
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ch, err := cli.KeepAlive(ctx, id)
			if err != nil {
				return err
			}
			for resp := range ch {
				fmt.Fprintf(out, "lease %x keepalived with TTL(%d)\n", resp.ID, resp.TTL)
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("lease %x expired or was revoked", id)
		},
	}
	o.addFlags(cmd, "")
	cmd.Flags().BoolVar(&once, "once", false, "renew once and exit")
	return cmd
}

func newLeaseTTLCmd() *cobra.Command {
	var (
		o    kvOptions
		keys bool
	)
	cmd := &cobra.Command{
		Use:   "ttl ID",
		Short: "print a lease's remaining and granted TTL (and its keys with --keys)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseLeaseID(args[0])
			if err != nil {
				return err
			}
			return o.withClient(cmd, func(ctx context.Context, cli *clientv3.Client) error {
				var opts []clientv3.LeaseOption
				if keys {
					opts = append(opts, clientv3.WithAttachedKeys())
				}
				resp, err := cli.TimeToLive(ctx, id, opts...)
				if err != nil {
					return err
				}
				if resp.TTL == -1 {
					return &exitError{exitNotFound, fmt.Errorf("lease %x not found (expired or revoked)", id)}
				}
				keyList := make([]string, len(resp.Keys))
				for i, k := range resp.Keys {
					keyList[i] = string(k)
				}
				if o.output == "json" {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"id": fmt.Sprintf("%x", id), "ttl": resp.TTL, "granted_ttl": resp.GrantedTTL, "keys": keyList})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "lease %x granted with TTL(%ds), remaining(%ds)", id, resp.GrantedTTL, resp.TTL)
				if keys {
					fmt.Fprintf(cmd.OutOrStdout(), ", attached keys(%v)", keyList)
				}
				fmt.Fprintln(cmd.OutOrStdout())
				return nil
			})
		},
	}
	o.addFlags(cmd, "simple or json")
	cmd.Flags().BoolVar(&keys, "keys", false, "list the keys attached to the lease")
	return cmd
}

func newLeaseListCmd() *cobra.Command {
	var o kvOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list the leases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withClient(cmd, func(ctx context.Context, cli *clientv3.Client) error {
				resp, err := cli.Leases(ctx)
				if err != nil {
					return err
				}
				ids := make([]string, len(resp.Leases))
				for i, l := range resp.Leases {
					ids[i] = fmt.Sprintf("%x", l.ID)
				}
				if o.output == "json" {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"leases": ids})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "found %d leases\n", len(ids))
				for _, id := range ids {
					fmt.Fprintln(cmd.OutOrStdout(), id)
				}
				return nil
			})
		},
	}
	o.addFlags(cmd, "simple or json")
	return cmd
}

func newKVCompactCmd() *cobra.Command {
	var (
		o        kvOptions
		physical bool
	)
	cmd := &cobra.Command{
		Use:   "compact REVISION",
		Short: "discard the history before REVISION",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rev, err := parseRev(args[0])
			if err != nil {
				return err
			}
			return o.withClient(cmd, func(ctx context.Context, cli *clientv3.Client) error {
				var opts []clientv3.CompactOption
				if physical {
					opts = append(opts, clientv3.WithCompactPhysical())
				}
				if _, err := cli.Compact(ctx, rev, opts...); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "compacted revision %d\n", rev)
				return nil
			})
		},
	}
	o.addFlags(cmd, "")
	cmd.Flags().BoolVar(&physical, "physical", false, "accepted for etcdctl compatibility: compaction is always physical")
	return cmd
}
