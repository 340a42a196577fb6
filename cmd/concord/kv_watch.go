package main

import (
	"fmt"
	"os/signal"
	"syscall"

	"github.com/concord-db/concord/server"
	"github.com/spf13/cobra"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func newKVWatchCmd() *cobra.Command {
	var (
		o               kvOptions
		prefix, prevKV  bool
		rev             int64
		noPut, noDelete bool
	)
	cmd := &cobra.Command{
		Use:   "watch KEY [RANGE_END]",
		Short: "print changes to a key, a range or a prefix until interrupted",
		Long: `Print changes until interrupted (SIGINT/SIGTERM). With --rev, replay every
change from that revision first. The simple format prints, per event, the
type (PUT or DELETE), the key and the value on three lines, as etcdctl does;
-o json prints one JSON object per line (the REST API's watch events).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput("simple", "json"); err != nil {
				return err
			}
			opts := []clientv3.OpOption{clientv3.WithRev(rev)}
			switch {
			case len(args) == 2:
				opts = append(opts, clientv3.WithRange(args[1]))
			case prefix:
				opts = append(opts, clientv3.WithPrefix())
			}
			if prevKV {
				opts = append(opts, clientv3.WithPrevKV())
			}
			if noPut {
				opts = append(opts, clientv3.WithFilterPut())
			}
			if noDelete {
				opts = append(opts, clientv3.WithFilterDelete())
			}
			cli, err := o.connect()
			if err != nil {
				return err
			}
			defer cli.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			for resp := range cli.Watch(clientv3.WithRequireLeader(ctx), args[0], opts...) {
				if err := resp.Err(); err != nil {
					return fmt.Errorf("watch ended: %w", err)
				}
				for _, ev := range resp.Events {
					if o.output == "json" {
						if err := writeJSONLine(out, watchEvent(ev)); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintln(out, ev.Type)
					if ev.PrevKv != nil {
						printKVs(out, []*mvccpb.KeyValue{ev.PrevKv}, false)
					}
					printKVs(out, []*mvccpb.KeyValue{ev.Kv}, false)
				}
			}
			if ctx.Err() != nil {
				return nil // interrupted: a normal end
			}
			return fmt.Errorf("watch ended")
		},
	}
	o.addFlags(cmd, "simple or json")
	f := cmd.Flags()
	f.BoolVar(&prefix, "prefix", false, "watch every key with KEY as prefix")
	f.Int64Var(&rev, "rev", 0, "replay changes from this revision first")
	f.BoolVar(&prevKV, "prev-kv", false, "print each key's previous version too")
	f.BoolVar(&noPut, "no-put", false, "skip puts")
	f.BoolVar(&noDelete, "no-delete", false, "skip deletes")
	return cmd
}

func watchEvent(ev *clientv3.Event) server.WatchEvent {
	out := server.WatchEvent{Type: ev.Type.String(), Revision: ev.Kv.ModRevision}
	kv := jsonKV(ev.Kv)
	out.KV = &kv
	if ev.PrevKv != nil {
		p := jsonKV(ev.PrevKv)
		out.PrevKV = &p
	}
	return out
}
