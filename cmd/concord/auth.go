package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/concord-db/concord/auth"
	"github.com/spf13/cobra"
	"go.etcd.io/etcd/api/v3/authpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// clientAuthOptions are the credentials of the client commands, with
// etcdctl's flags: --user name[:password] and --password.
type clientAuthOptions struct {
	user     string
	password string
}

func (o *clientAuthOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.user, "user", "", "user name[:password] to authenticate as (etcdctl's --user; env CONCORD_USER)")
	cmd.Flags().StringVar(&o.password, "password", "", "password of --user, if not given after a colon (env CONCORD_PASSWORD)")
}

// credentials returns the user name and password to authenticate with.
func (o *clientAuthOptions) credentials() (string, string) {
	user, password := o.user, o.password
	if user == "" {
		user = os.Getenv("CONCORD_USER")
	}
	if password == "" {
		password = os.Getenv("CONCORD_PASSWORD")
	}
	if name, pw, ok := strings.Cut(user, ":"); ok && password == "" {
		return name, pw
	}
	return user, password
}

// newAuthCmds returns `concord auth`, `concord user` and `concord role`:
// etcdctl's auth commands with its output.
func newAuthCmds() []*cobra.Command {
	authCmd := &cobra.Command{Use: "auth", Short: "enable, disable or show authentication (etcdctl auth)"}
	authCmd.AddCommand(
		authLeaf("enable", "turn authentication on (needs the root user with the root role)", 0, func(ctx context.Context, c *clientv3.Client, _ []string, w io.Writer) error {
			if _, err := c.AuthEnable(ctx); err != nil {
				return err
			}
			fmt.Fprintln(w, "Authentication Enabled")
			return nil
		}),
		authLeaf("disable", "turn authentication off", 0, func(ctx context.Context, c *clientv3.Client, _ []string, w io.Writer) error {
			if _, err := c.AuthDisable(ctx); err != nil {
				return err
			}
			fmt.Fprintln(w, "Authentication Disabled")
			return nil
		}),
		authLeaf("status", "show whether authentication is on and the auth revision", 0, func(ctx context.Context, c *clientv3.Client, _ []string, w io.Writer) error {
			r, err := c.AuthStatus(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "Authentication Status: %t\nAuthRevision: %d\n", r.Enabled, r.AuthRevision)
			return nil
		}),
	)
	return []*cobra.Command{authCmd, newUserCmd(), newRoleCmd()}
}

// authLeaf builds one command that runs fn with a connected client after
// checking it got exactly nargs arguments (-1: any).
func authLeaf(use, short string, nargs int, fn func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error) *cobra.Command {
	o := &kvOptions{}
	cmd := &cobra.Command{Use: use, Short: short}
	cmd.Args = cobra.ArbitraryArgs // nargs < 0: fn checks them (wrapArgs would make nil NoArgs)
	if nargs >= 0 {
		cmd.Args = cobra.ExactArgs(nargs)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := o.connect()
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
		defer cancel()
		return fn(ctx, c, args, cmd.OutOrStdout())
	}
	o.addFlags(cmd, "")
	return cmd
}

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "manage users (etcdctl user)"}
	var newPassword string
	var noPassword bool
	add := authLeaf("add <name or name:password>", "add a user", 1, func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
		name, pw, hasPw := strings.Cut(args[0], ":")
		if newPassword != "" {
			pw, hasPw = newPassword, true
		}
		var err error
		if noPassword {
			_, err = c.UserAddWithOptions(ctx, name, "", &clientv3.UserAddOptions{NoPassword: true})
		} else {
			if !hasPw {
				if pw, err = readPassword(c, "Password of "+name+": "); err != nil {
					return err
				}
			}
			_, err = c.UserAdd(ctx, name, pw)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "User %s created\n", name)
		return nil
	})
	add.Flags().StringVar(&newPassword, "new-user-password", "", "the new user's password (else name:password, or read from stdin)")
	add.Flags().BoolVar(&noPassword, "no-password", false, "a user without password, who authenticates only with a client certificate")
	var passwd string
	chpw := authLeaf("passwd <name>", "change a user's password", 1, func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
		pw := passwd
		if pw == "" {
			var err error
			if pw, err = readPassword(c, "Password of "+args[0]+": "); err != nil {
				return err
			}
		}
		if _, err := c.UserChangePassword(ctx, args[0], pw); err != nil {
			return err
		}
		fmt.Fprintln(w, "Password updated")
		return nil
	})
	chpw.Flags().StringVar(&passwd, "new-user-password", "", "the new password (else read from stdin)")
	cmd.AddCommand(add, chpw,
		authLeaf("delete <name>", "delete a user", 1, func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
			if _, err := c.UserDelete(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(w, "User %s deleted\n", args[0])
			return nil
		}),
		authLeaf("get <name>", "show a user's roles", 1, func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
			r, err := c.UserGet(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "User: %s\nRoles: %s\n", args[0], strings.Join(r.Roles, " "))
			return nil
		}),
		authLeaf("list", "list users", 0, func(ctx context.Context, c *clientv3.Client, _ []string, w io.Writer) error {
			r, err := c.UserList(ctx)
			if err != nil {
				return err
			}
			for _, u := range r.Users {
				fmt.Fprintln(w, u)
			}
			return nil
		}),
		authLeaf("grant-role <name> <role>", "grant a role to a user", 2, func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
			if _, err := c.UserGrantRole(ctx, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(w, "Role %s is granted to user %s\n", args[1], args[0])
			return nil
		}),
		authLeaf("revoke-role <name> <role>", "revoke a role from a user", 2, func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
			if _, err := c.UserRevokeRole(ctx, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(w, "Role %s is revoked from user %s\n", args[1], args[0])
			return nil
		}),
	)
	return cmd
}

// readPassword reads one line from stdin (etcdctl prompts on a terminal).
func readPassword(_ *clientv3.Client, prompt string) (string, error) {
	fmt.Fprint(os.Stderr, prompt)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", usagef("no password given (name:password, --new-user-password, or a line on stdin)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// permRange is a permission's key and range end from etcdctl's arguments
// and flags: a key, [key, rangeEnd), --prefix, or --from-key.
type permRange struct {
	prefix, fromKey bool
	namespace       string
}

func (p *permRange) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&p.prefix, "prefix", false, "the permission is on every key with this prefix")
	cmd.Flags().BoolVar(&p.fromKey, "from-key", false, "the permission is on every key from this one on")
	cmd.Flags().StringVar(&p.namespace, "namespace", "kv", `what the key names: "kv" (etcd's keys), "sql" (a database name) or "resource" (group/kind/partition/namespace)`)
}

func (p *permRange) keys(args []string) (string, string, error) {
	key, end := args[0], ""
	if len(args) > 1 {
		end = args[1]
	}
	switch {
	case (p.prefix || p.fromKey) && end != "":
		return "", "", usagef("a range end cannot be combined with --prefix or --from-key")
	case p.prefix && p.fromKey:
		return "", "", usagef("--prefix and --from-key exclude each other")
	case p.prefix:
		end = clientv3.GetPrefixRangeEnd(key)
	case p.fromKey:
		end = "\x00"
	}
	switch ns := auth.Namespace(p.namespace); ns {
	case auth.NamespaceKV:
	case auth.NamespaceSQL, auth.NamespaceResource:
		var e []byte
		if end != "" {
			e = []byte(end)
		}
		k, e := auth.NamespacedKey(ns, []byte(key), e)
		return string(k), string(e), nil
	default:
		return "", "", usagef("--namespace %q: want kv, sql or resource", p.namespace)
	}
	return key, end, nil
}

func newRoleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "manage roles and their permissions (etcdctl role)"}
	var grant, revoke permRange
	grantCmd := authLeaf("grant-permission <role> <read|write|readwrite> <key> [range end]", "grant a permission on a key, a range, a prefix or every key from one", -1,
		func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
			if len(args) < 3 || len(args) > 4 {
				return usagef("want <role> <read|write|readwrite> <key> [range end]")
			}
			typ, ok := authpb.Permission_Type_value[strings.ToUpper(args[1])]
			if !ok {
				return usagef("permission type %q: want read, write or readwrite", args[1])
			}
			key, end, err := grant.keys(args[2:])
			if err != nil {
				return err
			}
			if _, err := c.RoleGrantPermission(ctx, args[0], key, end, clientv3.PermissionType(typ)); err != nil {
				return err
			}
			fmt.Fprintf(w, "Role %s updated\n", args[0])
			return nil
		})
	grant.addFlags(grantCmd)
	revokeCmd := authLeaf("revoke-permission <role> <key> [range end]", "revoke the permission on exactly this key or range", -1,
		func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
			if len(args) < 2 || len(args) > 3 {
				return usagef("want <role> <key> [range end]")
			}
			key, end, err := revoke.keys(args[1:])
			if err != nil {
				return err
			}
			if _, err := c.RoleRevokePermission(ctx, args[0], key, end); err != nil {
				return err
			}
			if end == "" {
				fmt.Fprintf(w, "Permission of key %s is revoked from role %s\n", key, args[0])
			} else {
				fmt.Fprintf(w, "Permission of range [%s, %s) is revoked from role %s\n", key, end, args[0])
			}
			return nil
		})
	revoke.addFlags(revokeCmd)
	cmd.AddCommand(grantCmd, revokeCmd,
		authLeaf("add <role>", "add a role", 1, func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
			if _, err := c.RoleAdd(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(w, "Role %s created\n", args[0])
			return nil
		}),
		authLeaf("delete <role>", "delete a role", 1, func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
			if _, err := c.RoleDelete(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(w, "Role %s deleted\n", args[0])
			return nil
		}),
		authLeaf("get <role>", "show a role's permissions", 1, func(ctx context.Context, c *clientv3.Client, args []string, w io.Writer) error {
			r, err := c.RoleGet(ctx, args[0])
			if err != nil {
				return err
			}
			printRole(w, args[0], r.Perm)
			return nil
		}),
		authLeaf("list", "list roles", 0, func(ctx context.Context, c *clientv3.Client, _ []string, w io.Writer) error {
			r, err := c.RoleList(ctx)
			if err != nil {
				return err
			}
			for _, name := range r.Roles {
				fmt.Fprintln(w, name)
			}
			return nil
		}),
	)
	return cmd
}

// printRole prints a role as etcdctl does.
func printRole(w io.Writer, name string, perms []*authpb.Permission) {
	fmt.Fprintf(w, "Role %s\n", name)
	for _, want := range []struct {
		title string
		typ   authpb.Permission_Type
	}{{"KV Read:", authpb.READ}, {"KV Write:", authpb.WRITE}} {
		fmt.Fprintln(w, want.title)
		for _, p := range perms {
			if p.PermType != want.typ && p.PermType != authpb.READWRITE {
				continue
			}
			switch {
			case len(p.RangeEnd) == 0:
				fmt.Fprintf(w, "\t%s\n", p.Key)
			case string(p.RangeEnd) == "\x00":
				fmt.Fprintf(w, "\t[%s, <open ended>\n", p.Key)
			case string(p.RangeEnd) == clientv3.GetPrefixRangeEnd(string(p.Key)):
				fmt.Fprintf(w, "\t[%s, %s) (prefix %s)\n", p.Key, p.RangeEnd, p.Key)
			default:
				fmt.Fprintf(w, "\t[%s, %s)\n", p.Key, p.RangeEnd)
			}
		}
	}
}
