package main

import (
	"context"
	"fmt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"io"
	"text/tabwriter"

	"github.com/concord-db/concord/server"
	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func newKVGetCmd() *cobra.Command {
	var (
		o                           kvOptions
		prefix, fromKey, keysOnly   bool
		countOnly                   bool
		rev, limit                  int64
		consistency, rangeEnd, sort string
	)
	cmd := &cobra.Command{
		Use:   "get KEY [RANGE_END]",
		Short: "read a key, a range or a prefix",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput("simple", "table", "json", "value"); err != nil {
				return err
			}
			opts := []clientv3.OpOption{clientv3.WithRev(rev), clientv3.WithLimit(limit)}
			switch consistency {
			case "linearizable", "strong":
			case "serializable", "eventual":
				opts = append(opts, clientv3.WithSerializable())
			default:
				return usagef("--consistency %q: want linearizable or serializable", consistency)
			}
			single := true
			switch {
			case len(args) == 2:
				opts, single = append(opts, clientv3.WithRange(args[1])), false
			case prefix:
				opts, single = append(opts, clientv3.WithPrefix()), false
			case fromKey:
				opts, single = append(opts, clientv3.WithFromKey()), false
			}
			if keysOnly {
				opts = append(opts, clientv3.WithKeysOnly())
			}
			if countOnly {
				opts = append(opts, clientv3.WithCountOnly())
			}
			if sort != "" {
				order, target, err := parseSort(sort)
				if err != nil {
					return err
				}
				opts = append(opts, clientv3.WithSort(target, order))
			}
			return o.withClient(cmd, func(ctx context.Context, cli *clientv3.Client) error {
				resp, err := cli.Get(ctx, args[0], opts...)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				switch o.output {
				case "json":
					err = writeJSON(out, server.RangeResult{Revision: resp.Header.Revision, Count: resp.Count, More: resp.More, KVs: jsonKVs(resp.Kvs)})
				case "table":
					err = printKVTable(out, resp)
				case "value":
					printKVs(out, resp.Kvs, true)
				default:
					if countOnly {
						fmt.Fprintln(out, resp.Count)
					} else {
						printKVs(out, resp.Kvs, keysOnly)
					}
				}
				if err == nil && single && !countOnly && len(resp.Kvs) == 0 {
					return &exitError{exitNotFound, fmt.Errorf("key %q not found", args[0])}
				}
				return err
			})
		},
	}
	o.addFlags(cmd, "simple, table, json or value")
	f := cmd.Flags()
	f.BoolVar(&prefix, "prefix", false, "read every key with KEY as prefix")
	f.BoolVar(&fromKey, "from-key", false, "read every key >= KEY")
	f.StringVar(&rangeEnd, "range-end", "", "deprecated alias of the RANGE_END argument")
	f.Int64Var(&rev, "rev", 0, "read at this revision (0: the latest)")
	f.Int64Var(&limit, "limit", 0, "return at most this many keys (0: all)")
	f.StringVar(&consistency, "consistency", "linearizable", "linearizable or serializable (local, possibly stale)")
	f.BoolVar(&keysOnly, "keys-only", false, "return only keys")
	f.BoolVar(&countOnly, "count-only", false, "return only the count")
	f.StringVar(&sort, "sort-by", "", "sort by KEY, VERSION, CREATE, MODIFY or VALUE, optionally :ASCEND or :DESCEND")
	_ = f.MarkHidden("range-end")
	return cmd
}

func parseSort(s string) (clientv3.SortOrder, clientv3.SortTarget, error) {
	targets := map[string]clientv3.SortTarget{"KEY": clientv3.SortByKey, "VERSION": clientv3.SortByVersion,
		"CREATE": clientv3.SortByCreateRevision, "MODIFY": clientv3.SortByModRevision, "VALUE": clientv3.SortByValue}
	name, dir := s, "ASCEND"
	for i := range s {
		if s[i] == ':' {
			name, dir = s[:i], s[i+1:]
		}
	}
	t, ok := targets[name]
	if !ok {
		return 0, 0, usagef("--sort-by %q: unknown target", s)
	}
	switch dir {
	case "ASCEND":
		return clientv3.SortAscend, t, nil
	case "DESCEND":
		return clientv3.SortDescend, t, nil
	}
	return 0, 0, usagef("--sort-by %q: order must be ASCEND or DESCEND", s)
}

func printKVTable(w io.Writer, resp *clientv3.GetResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tCREATE_REV\tMOD_REV\tVERSION\tLEASE")
	for _, kv := range resp.Kvs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%x\n", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease)
	}
	return tw.Flush()
}

func newKVPutCmd() *cobra.Command {
	var (
		o       kvOptions
		lease   string
		prevKV  bool
		prevMod int64
	)
	cmd := &cobra.Command{
		Use:   "put KEY [VALUE]",
		Short: "write a key (the value from stdin if not given)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput("simple", "json"); err != nil {
				return err
			}
			var value string
			if len(args) == 2 {
				value = args[1]
			} else {
				b, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return err
				}
				value = string(b)
			}
			opts := []clientv3.OpOption{}
			if prevKV {
				opts = append(opts, clientv3.WithPrevKV())
			}
			if lease != "" {
				id, err := parseLeaseID(lease)
				if err != nil {
					return err
				}
				opts = append(opts, clientv3.WithLease(id))
			}
			return o.withClient(cmd, func(ctx context.Context, cli *clientv3.Client) error {
				put := clientv3.OpPut(args[0], value, opts...)
				var (
					resp *clientv3.PutResponse
					err  error
				)
				if cmd.Flags().Changed("prev-mod-revision") {
					resp, err = condWrite(ctx, cli, args[0], prevMod, put, func(r *clientv3.TxnResponse) *clientv3.PutResponse {
						return (*clientv3.PutResponse)(r.Responses[0].GetResponsePut())
					})
				} else {
					resp, err = cli.Put(ctx, args[0], value, opts...)
				}
				if err != nil {
					return err
				}
				if o.output == "json" {
					res := server.PutResult{Revision: resp.Header.Revision}
					if resp.PrevKv != nil {
						kv := jsonKV(resp.PrevKv)
						res.PrevKV = &kv
					}
					return writeJSON(cmd.OutOrStdout(), res)
				}
				fmt.Fprintln(cmd.OutOrStdout(), "OK")
				if resp.PrevKv != nil {
					printKVs(cmd.OutOrStdout(), []*mvccpb.KeyValue{resp.PrevKv}, false)
				}
				return nil
			})
		},
	}
	o.addFlags(cmd, "simple or json")
	cmd.Flags().StringVar(&lease, "lease", "", "attach the key to this lease (hex ID, as etcdctl prints it)")
	cmd.Flags().BoolVar(&prevKV, "prev-kv", false, "print the previous version")
	cmd.Flags().Int64Var(&prevMod, "prev-mod-revision", 0, "write only if the key's mod revision is this (0: only if the key does not exist); exit 4 otherwise")
	return cmd
}

// condWrite runs op only if key's mod revision is prevMod.
func condWrite[T any](ctx context.Context, cli *clientv3.Client, key string, prevMod int64, op clientv3.Op, pick func(*clientv3.TxnResponse) T) (T, error) {
	var zero T
	resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", prevMod)).Then(op).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return zero, err
	}
	if !resp.Succeeded {
		var cur int64
		if rr := resp.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
			cur = rr.Kvs[0].ModRevision
		}
		return zero, &exitError{exitCompareFailed, fmt.Errorf("key %q has mod revision %d, not %d: nothing written", key, cur, prevMod)}
	}
	return pick(resp), nil
}

func newKVDelCmd() *cobra.Command {
	var (
		o               kvOptions
		prefix, fromKey bool
		prevKV          bool
		prevMod         int64
	)
	cmd := &cobra.Command{
		Use:   "del KEY [RANGE_END]",
		Short: "delete a key, a range or a prefix; prints the number deleted",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput("simple", "json"); err != nil {
				return err
			}
			var opts []clientv3.OpOption
			isRange := len(args) == 2 || prefix || fromKey
			switch {
			case len(args) == 2:
				opts = append(opts, clientv3.WithRange(args[1]))
			case prefix:
				opts = append(opts, clientv3.WithPrefix())
			case fromKey:
				opts = append(opts, clientv3.WithFromKey())
			}
			if prevKV {
				opts = append(opts, clientv3.WithPrevKV())
			}
			conditional := cmd.Flags().Changed("prev-mod-revision")
			if conditional && isRange {
				return usagef("--prev-mod-revision applies to one key, not a range")
			}
			return o.withClient(cmd, func(ctx context.Context, cli *clientv3.Client) error {
				var (
					resp *clientv3.DeleteResponse
					err  error
				)
				if conditional {
					resp, err = condWrite(ctx, cli, args[0], prevMod, clientv3.OpDelete(args[0], opts...), func(r *clientv3.TxnResponse) *clientv3.DeleteResponse {
						return (*clientv3.DeleteResponse)(r.Responses[0].GetResponseDeleteRange())
					})
				} else {
					resp, err = cli.Delete(ctx, args[0], opts...)
				}
				if err != nil {
					return err
				}
				if o.output == "json" {
					return writeJSON(cmd.OutOrStdout(), server.DeleteResult{Revision: resp.Header.Revision, Deleted: resp.Deleted, PrevKVs: jsonKVs(resp.PrevKvs)})
				}
				fmt.Fprintln(cmd.OutOrStdout(), resp.Deleted)
				printKVs(cmd.OutOrStdout(), resp.PrevKvs, false)
				return nil
			})
		},
	}
	o.addFlags(cmd, "simple or json")
	cmd.Flags().BoolVar(&prefix, "prefix", false, "delete every key with KEY as prefix")
	cmd.Flags().BoolVar(&fromKey, "from-key", false, "delete every key >= KEY")
	cmd.Flags().BoolVar(&prevKV, "prev-kv", false, "print the deleted versions")
	cmd.Flags().Int64Var(&prevMod, "prev-mod-revision", 0, "delete only if the key's mod revision is this; exit 4 otherwise")
	return cmd
}
