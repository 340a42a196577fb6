package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"text/tabwriter"

	"github.com/hashicorp/consul/proto-public/pbresource"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/concord-db/concord/server/resourceapi"
)

// newResourceCmd is `concord resource`: Consul's typed resources through
// the REST API (/v1/resource), with Consul's type syntax
// (group.group_version.Kind) and `consul resource apply` files.
func newResourceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "resource",
		Short: "read, write, list and watch typed resources (Consul's resource API)",
		Long: `Read, write, list and watch Consul-style typed resources.

A type is written group.group_version.Kind (demo.v2.Artist). Files given to
"apply" are JSON or YAML shaped like "consul resource apply" files: an "id"
with "type", "name" and "tenancy", and "data", "metadata", "owner".

Exit codes: 0 success; 1 failure; 2 bad usage; 3 the resource does not
exist (read); 4 a compare-and-swap (--version) did not hold: nothing written.`,
	}
	cmd.AddCommand(newResourceReadCmd(), newResourceApplyCmd(), newResourceListCmd(), newResourceDeleteCmd(),
		newResourceWatchCmd(), newResourceOwnedCmd())
	return cmd
}

// resourceOptions are the flags every resource command shares.
type resourceOptions struct {
	clientOptions
	partition, namespace string
	consistent           bool
}

func (o *resourceOptions) addFlags(cmd *cobra.Command, tenancy, consistent bool) {
	o.clientOptions.addFlags(cmd, true)
	if tenancy {
		cmd.Flags().StringVar(&o.partition, "partition", resourceapi.DefaultTenancy, "partition (\"*\": every partition, for list and watch)")
		cmd.Flags().StringVar(&o.namespace, "namespace", resourceapi.DefaultTenancy, "namespace (\"*\": every namespace, for list and watch)")
	}
	if consistent {
		cmd.Flags().BoolVar(&o.consistent, "consistent", false, "strong read: see every write acknowledged before the read began")
	}
}

func (o *resourceOptions) query() url.Values {
	q := url.Values{}
	if o.partition != "" {
		q.Set("partition", o.partition)
	}
	if o.namespace != "" {
		q.Set("namespace", o.namespace)
	}
	if o.consistent {
		q.Set("consistent", "true")
	}
	return q
}

func (o *resourceOptions) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), o.timeout)
}

func parseTypeArg(s string) (*pbresource.Type, error) {
	t, err := resourceapi.ParseType(s)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return t, nil
}

func newResourceReadCmd() *cobra.Command {
	var o resourceOptions
	cmd := &cobra.Command{
		Use:   "read TYPE NAME",
		Short: "print one resource",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTypeArg(args[0])
			if err != nil {
				return err
			}
			if err := o.check(); err != nil {
				return err
			}
			ctx, cancel := o.ctx()
			defer cancel()
			raw, err := o.resourceClient(false).call(ctx, "GET", itemPath(t, args[1]), o.query(), nil)
			if err != nil {
				return exitCodeOf(err)
			}
			return printResources(cmd.OutOrStdout(), o.output, raw, false)
		},
	}
	o.addFlags(cmd, true, true)
	return cmd
}

func newResourceApplyCmd() *cobra.Command {
	var (
		o       resourceOptions
		file    string
		version string
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "create or update a resource from a JSON or YAML file (- for stdin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usagef("-f FILE is required")
			}
			if err := o.check(); err != nil {
				return err
			}
			res, err := readResourceFile(cmd.InOrStdin(), file)
			if err != nil {
				return err
			}
			if version != "" {
				res.Version = version
			}
			body, err := resourceapi.MarshalResource(res)
			if err != nil {
				return err
			}
			q := url.Values{}
			q.Set("partition", orDefault(res.Id.GetTenancy().GetPartition()))
			q.Set("namespace", orDefault(res.Id.GetTenancy().GetNamespace()))
			ctx, cancel := o.ctx()
			defer cancel()
			raw, err := o.resourceClient(false).call(ctx, "PUT", itemPath(res.Id.Type, res.Id.Name), q, body)
			if err != nil {
				return exitCodeOf(err)
			}
			return printResources(cmd.OutOrStdout(), o.output, raw, false)
		},
	}
	o.addFlags(cmd, false, false)
	cmd.Flags().StringVarP(&file, "file", "f", "", "the resource file, JSON or YAML (- reads stdin)")
	cmd.Flags().StringVar(&version, "version", "", "write only if the stored version is this one (compare-and-swap)")
	return cmd
}

func orDefault(s string) string {
	if s == "" {
		return resourceapi.DefaultTenancy
	}
	return s
}

// readResourceFile reads a `consul resource apply` style file, JSON or
// YAML, which must name the resource's type and name.
func readResourceFile(stdin io.Reader, file string) (*pbresource.Resource, error) {
	var (
		raw []byte
		err error
	)
	if file == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, usagef("reading %s: %v", file, err)
	}
	js, err := yaml.YAMLToJSON(raw) // JSON is YAML: both come out as JSON
	if err != nil {
		return nil, usagef("%s: neither JSON nor YAML: %v", file, err)
	}
	res, err := resourceapi.UnmarshalResource(js)
	if err != nil {
		return nil, usagef("%s: %v", file, err)
	}
	if res.Id == nil || res.Id.Type == nil || res.Id.Name == "" {
		return nil, usagef("%s: the resource needs an id with a type and a name", file)
	}
	return res, nil
}

func newResourceListCmd() *cobra.Command {
	var (
		o      resourceOptions
		prefix string
	)
	cmd := &cobra.Command{
		Use:   "list TYPE",
		Short: "list the resources of a type",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTypeArg(args[0])
			if err != nil {
				return err
			}
			if err := o.check(); err != nil {
				return err
			}
			q := o.query()
			if prefix != "" {
				q.Set("name_prefix", prefix)
			}
			ctx, cancel := o.ctx()
			defer cancel()
			raw, err := o.resourceClient(false).call(ctx, "GET", typePath(t), q, nil)
			if err != nil {
				return exitCodeOf(err)
			}
			return printResources(cmd.OutOrStdout(), o.output, raw, true)
		},
	}
	o.addFlags(cmd, true, true)
	cmd.Flags().StringVar(&prefix, "name-prefix", "", "only resources whose names start with this")
	return cmd
}

func newResourceDeleteCmd() *cobra.Command {
	var (
		o       resourceOptions
		version string
	)
	cmd := &cobra.Command{
		Use:   "delete TYPE NAME",
		Short: "delete a resource (deleting one that does not exist succeeds)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTypeArg(args[0])
			if err != nil {
				return err
			}
			if err := o.check(); err != nil {
				return err
			}
			q := o.query()
			if version != "" {
				q.Set("version", version)
			}
			ctx, cancel := o.ctx()
			defer cancel()
			if _, err := o.resourceClient(false).call(ctx, "DELETE", itemPath(t, args[1]), q, nil); err != nil {
				return exitCodeOf(err)
			}
			if o.output == "json" {
				fmt.Fprintln(cmd.OutOrStdout(), "{}")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s %s\n", args[0], args[1])
			return nil
		},
	}
	o.addFlags(cmd, true, false)
	cmd.Flags().StringVar(&version, "version", "", "delete only if the stored version is this one (compare-and-swap)")
	return cmd
}

func newResourceOwnedCmd() *cobra.Command {
	var o resourceOptions
	cmd := &cobra.Command{
		Use:   "owned OWNER",
		Short: "list the resources an owner owns; OWNER is group.group_version.Kind/partition/namespace/name/uid",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := resourceapi.ParseID(args[0]); err != nil {
				return usagef("%v", err)
			}
			if err := o.check(); err != nil {
				return err
			}
			q := url.Values{"owner": {args[0]}}
			if o.consistent {
				q.Set("consistent", "true")
			}
			ctx, cancel := o.ctx()
			defer cancel()
			raw, err := o.resourceClient(false).call(ctx, "GET", "/v1/resource", q, nil)
			if err != nil {
				return exitCodeOf(err)
			}
			return printResources(cmd.OutOrStdout(), o.output, raw, true)
		},
	}
	o.addFlags(cmd, false, true)
	return cmd
}

// printResources prints one resource or a list answer: -o json as the
// server sent it (indented), the table with one line per resource.
func printResources(w io.Writer, output string, raw []byte, isList bool) error {
	if output == "json" {
		return printJSON(w, raw)
	}
	var list []*pbresource.Resource
	if isList {
		var err error
		if list, err = resourceapi.UnmarshalResources(raw); err != nil {
			return fmt.Errorf("unexpected answer: %w", err)
		}
	} else {
		res, err := resourceapi.UnmarshalResource(raw)
		if err != nil {
			return fmt.Errorf("unexpected answer: %w", err)
		}
		list = []*pbresource.Resource{res}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tPARTITION\tNAMESPACE\tNAME\tVERSION\tUID\tOWNER")
	for _, r := range list {
		owner := ""
		if r.Owner != nil {
			owner = resourceapi.FormatID(r.Owner)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", resourceapi.FormatType(r.Id.GetType()), r.Id.GetTenancy().GetPartition(),
			r.Id.GetTenancy().GetNamespace(), r.Id.GetName(), r.Version, r.Id.GetUid(), owner)
	}
	return tw.Flush()
}
