package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/term"
)

func newKVTxnCmd() *cobra.Command {
	var (
		o           kvOptions
		interactive bool
	)
	cmd := &cobra.Command{
		Use:   "txn",
		Short: "run a transaction read from stdin (etcdctl's format)",
		Long: `Read a transaction from stdin in etcdctl's format: compares, one per line,
then an empty line, the operations run if every compare holds, an empty
line, and the operations run otherwise.

  compares:      mod("key1") > "0"       (targets: value/val, version/ver,
                 value("key2") = "v2"     create/c, mod/m, lease; ops =, !=, <, >)
  operations:    put KEY VALUE | get KEY [RANGE_END] [--prefix] | del KEY [RANGE_END] [--prefix]

Prints SUCCESS or FAILURE, then each operation's result. Exit code 4 when
the compares failed (the failure operations ran).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := cmd.InOrStdin()
			prompt := interactive || isTerminalReader(in)
			txn, err := readTxn(bufio.NewReader(in), cmd.ErrOrStderr(), prompt)
			if err != nil {
				return err
			}
			return o.withClient(cmd, func(ctx context.Context, cli *clientv3.Client) error {
				resp, err := cli.Txn(ctx).If(txn.cmps...).Then(txn.success...).Else(txn.failure...).Commit()
				if err != nil {
					return err
				}
				printTxn(cmd.OutOrStdout(), resp)
				if !resp.Succeeded {
					return &exitError{exitCompareFailed, fmt.Errorf("compares failed: the failure operations ran")}
				}
				return nil
			})
		},
	}
	o.addFlags(cmd, "")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "prompt for each part (the default on a terminal)")
	return cmd
}

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

type parsedTxn struct {
	cmps             []clientv3.Cmp
	success, failure []clientv3.Op
}

func readTxn(r *bufio.Reader, prompts io.Writer, prompt bool) (*parsedTxn, error) {
	var t parsedTxn
	say := func(s string) {
		if prompt {
			fmt.Fprintln(prompts, s)
		}
	}
	say("compares:")
	lines, err := readBlock(r)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		c, err := parseCompare(l)
		if err != nil {
			return nil, usagef("compare %q: %v", l, err)
		}
		t.cmps = append(t.cmps, c)
	}
	for _, branch := range []struct {
		name string
		ops  *[]clientv3.Op
	}{{"success", &t.success}, {"failure", &t.failure}} {
		say("\n" + branch.name + " requests (get, put, del):")
		lines, err := readBlock(r)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			op, err := parseOp(l)
			if err != nil {
				return nil, usagef("%s operation %q: %v", branch.name, l, err)
			}
			*branch.ops = append(*branch.ops, op)
		}
	}
	return &t, nil
}

// readBlock reads lines up to an empty line or the end of input.
func readBlock(r *bufio.Reader) ([]string, error) {
	var lines []string
	for {
		line, err := r.ReadString('\n')
		line = strings.TrimSpace(line)
		if line != "" {
			lines = append(lines, line)
		}
		if err == io.EOF || (line == "" && err == nil) {
			return lines, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// fields splits a line on spaces, keeping "quoted strings" (Go syntax) whole.
func fields(line string) ([]string, error) {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '"' {
			end := 1
			for end < len(line) && (line[end] != '"' || line[end-1] == '\\') {
				end++
			}
			if end == len(line) {
				return nil, fmt.Errorf("unterminated quote")
			}
			s, err := strconv.Unquote(line[:end+1])
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			line = line[end+1:]
			continue
		}
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			i = len(line)
		}
		out = append(out, line[:i])
		line = line[i:]
	}
	return out, nil
}

// parseCompare reads target("key") op "value".
func parseCompare(line string) (clientv3.Cmp, error) {
	open := strings.Index(line, "(")
	closing := strings.LastIndex(line, ")")
	if open < 0 || closing < open {
		return clientv3.Cmp{}, fmt.Errorf(`want target("key") op "value"`)
	}
	target := strings.TrimSpace(line[:open])
	keyArg, err := fields(line[open+1 : closing])
	if err != nil || len(keyArg) != 1 {
		return clientv3.Cmp{}, fmt.Errorf("want exactly one quoted key")
	}
	rest, err := fields(line[closing+1:])
	if err != nil || len(rest) != 2 {
		return clientv3.Cmp{}, fmt.Errorf(`want an operator and a "value" after the key`)
	}
	key, op, val := keyArg[0], rest[0], rest[1]
	switch op {
	case "=", "!=", "<", ">":
	default:
		return clientv3.Cmp{}, fmt.Errorf("operator %q is not =, !=, < or >", op)
	}
	num := func() (int64, error) { return strconv.ParseInt(val, 10, 64) }
	var cmp clientv3.Cmp
	switch target {
	case "value", "val":
		return clientv3.Compare(clientv3.Value(key), op, val), nil
	case "version", "ver":
		n, err := num()
		if err != nil {
			return cmp, fmt.Errorf("version %q is not a number", val)
		}
		return clientv3.Compare(clientv3.Version(key), op, n), nil
	case "create", "c":
		n, err := num()
		if err != nil {
			return cmp, fmt.Errorf("create revision %q is not a number", val)
		}
		return clientv3.Compare(clientv3.CreateRevision(key), op, n), nil
	case "mod", "m":
		n, err := num()
		if err != nil {
			return cmp, fmt.Errorf("mod revision %q is not a number", val)
		}
		return clientv3.Compare(clientv3.ModRevision(key), op, n), nil
	case "lease":
		id, err := strconv.ParseInt(val, 16, 64)
		if err != nil {
			return cmp, fmt.Errorf("lease %q is not a hex ID", val)
		}
		return clientv3.Compare(clientv3.LeaseValue(key), op, id), nil
	}
	return cmp, fmt.Errorf("target %q is not value, version, create, mod or lease", target)
}

// parseOp reads put/get/del with their arguments.
func parseOp(line string) (clientv3.Op, error) {
	f, err := fields(line)
	if err != nil {
		return clientv3.Op{}, err
	}
	var args []string
	prefix := false
	for _, a := range f[1:] {
		if a == "--prefix" {
			prefix = true
		} else {
			args = append(args, a)
		}
	}
	rangeOpts := func() []clientv3.OpOption {
		switch {
		case len(args) == 2:
			return []clientv3.OpOption{clientv3.WithRange(args[1])}
		case prefix:
			return []clientv3.OpOption{clientv3.WithPrefix()}
		}
		return nil
	}
	switch f[0] {
	case "put":
		if len(args) != 2 || prefix {
			return clientv3.Op{}, fmt.Errorf("want put KEY VALUE")
		}
		return clientv3.OpPut(args[0], args[1]), nil
	case "get":
		if len(args) < 1 || len(args) > 2 {
			return clientv3.Op{}, fmt.Errorf("want get KEY [RANGE_END] [--prefix]")
		}
		return clientv3.OpGet(args[0], rangeOpts()...), nil
	case "del", "delete":
		if len(args) < 1 || len(args) > 2 {
			return clientv3.Op{}, fmt.Errorf("want del KEY [RANGE_END] [--prefix]")
		}
		return clientv3.OpDelete(args[0], rangeOpts()...), nil
	}
	return clientv3.Op{}, fmt.Errorf("operation %q is not put, get or del", f[0])
}

func printTxn(w io.Writer, resp *clientv3.TxnResponse) {
	if resp.Succeeded {
		fmt.Fprintln(w, "SUCCESS")
	} else {
		fmt.Fprintln(w, "FAILURE")
	}
	for _, r := range resp.Responses {
		fmt.Fprintln(w)
		switch {
		case r.GetResponsePut() != nil:
			fmt.Fprintln(w, "OK")
		case r.GetResponseRange() != nil:
			printKVs(w, r.GetResponseRange().Kvs, false)
		case r.GetResponseDeleteRange() != nil:
			fmt.Fprintln(w, r.GetResponseDeleteRange().Deleted)
		}
	}
}
