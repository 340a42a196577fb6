package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/concord-db/concord/server"
	"github.com/spf13/cobra"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// newKVCmd is `concord kv`: the key-value store through etcd's v3 gRPC API
// (the same API etcdctl uses).
func newKVCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kv",
		Short: "read and write the key-value store (etcd v3 API)",
		Long: `Read and write the key-value store through etcd's v3 gRPC API.

Exit codes: 0 success; 1 failure (unreachable cluster, server error);
2 bad usage; 3 "kv get" of a single key that does not exist; 4 a
conditional write (--prev-mod-revision, or "kv txn") whose compare failed.`,
	}
	cmd.AddCommand(newKVGetCmd(), newKVPutCmd(), newKVDelCmd(), newKVWatchCmd(), newKVTxnCmd(),
		newKVLeaseCmd(), newKVCompactCmd())
	return cmd
}

// kvOptions are the flags of every kv command.
type kvOptions struct {
	endpoints []string
	timeout   time.Duration
	output    string
	tls       clientTLSOptions
	auth      clientAuthOptions
}

func (o *kvOptions) addFlags(cmd *cobra.Command, outputs string) {
	o.tls.addFlags(cmd)
	o.auth.addFlags(cmd)
	cmd.Flags().StringSliceVar(&o.endpoints, "endpoints", []string{defaultClientAddr},
		"client addresses of cluster members (host:port), comma-separated; the client balances over them")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of the request (not of watch or keepalive)")
	if outputs != "" {
		cmd.Flags().StringVarP(&o.output, "output", "o", "simple", "output format: "+outputs)
	}
}

func (o *kvOptions) checkOutput(allowed ...string) error {
	for _, a := range allowed {
		if o.output == a {
			return nil
		}
	}
	return usagef("--output %q: want one of %v", o.output, allowed)
}

// connect opens a clientv3 client. It does not wait for a connection:
// requests fail with a clear error if no endpoint answers.
func (o *kvOptions) connect() (*clientv3.Client, error) {
	if len(o.endpoints) == 0 {
		return nil, usagef("--endpoints is empty")
	}
	eps := make([]string, len(o.endpoints))
	for i, ep := range o.endpoints {
		eps[i] = trimScheme(ep)
	}
	tlsCfg, err := o.tls.config(o.endpoints)
	if err != nil {
		return nil, err
	}
	user, password := o.auth.credentials()
	return clientv3.New(clientv3.Config{Endpoints: eps, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		Username: user, Password: password})
}

func trimScheme(ep string) string {
	for _, p := range []string{"http://", "https://"} {
		if len(ep) > len(p) && ep[:len(p)] == p {
			return ep[len(p):]
		}
	}
	return ep
}

// withClient connects, runs fn under the request timeout, and closes.
func (o *kvOptions) withClient(cmd *cobra.Command, fn func(ctx context.Context, cli *clientv3.Client) error) error {
	cli, err := o.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	return fn(ctx, cli)
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonKV converts a key-value to the REST API's JSON shape, so REST and
// the CLI print the same documents.
func jsonKV(kv *mvccpb.KeyValue) server.KeyValue {
	out := server.KeyValue{Key: string(kv.Key), CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision,
		Version: kv.Version, Lease: kv.Lease}
	v := string(kv.Value)
	out.Value = &v
	return out
}

func jsonKVs(kvs []*mvccpb.KeyValue) []server.KeyValue {
	out := make([]server.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, jsonKV(kv))
	}
	return out
}

// printKVs prints key-values in the simple format (key line, value line,
// as etcdctl does) or only the values.
func printKVs(w io.Writer, kvs []*mvccpb.KeyValue, valuesOnly bool) {
	for _, kv := range kvs {
		if !valuesOnly {
			fmt.Fprintln(w, string(kv.Key))
		}
		fmt.Fprintln(w, string(kv.Value))
	}
}

func parseRev(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, usagef("revision %q is not a non-negative integer", s)
	}
	return n, nil
}

// writeJSONLine prints v as one line of JSON (for streams).
func writeJSONLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
