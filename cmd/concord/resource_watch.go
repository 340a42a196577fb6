package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/concord-db/concord/server/resourceapi"
)

func newResourceWatchCmd() *cobra.Command {
	var (
		o      resourceOptions
		prefix string
		from   uint64
		max    int
	)
	cmd := &cobra.Command{
		Use:   "watch TYPE",
		Short: "print the resources of a type, then every change, until interrupted",
		Long: `Print the resources of a type as upserts, then "end_of_snapshot", then every
change as it happens. Each line carries the store version of the event:
--from-version resumes after the last one seen, with no gap and no
duplicate, as long as the cluster still retains that history.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTypeArg(args[0])
			if err != nil {
				return err
			}
			o.consistent = false
			if err := o.check(); err != nil {
				return err
			}
			q := o.query()
			q.Set("watch", "true")
			if prefix != "" {
				q.Set("name_prefix", prefix)
			}
			if from > 0 {
				q.Set("from_version", strconv.FormatUint(from, 10))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return watchResources(ctx, cmd, &o, typePath(t), q, max)
		},
	}
	o.addFlags(cmd, true, false)
	cmd.Flags().StringVar(&prefix, "name-prefix", "", "only resources whose names start with this")
	cmd.Flags().Uint64Var(&from, "from-version", 0, "resume after this store version (no snapshot)")
	cmd.Flags().IntVar(&max, "max-events", 0, "stop after printing this many lines (0: until interrupted)")
	return cmd
}

// watchResources prints the watch stream's lines: -o json as they come,
// the table as "KIND VERSION TYPE/PARTITION/NAMESPACE/NAME".
func watchResources(ctx context.Context, cmd *cobra.Command, o *resourceOptions, path string, q url.Values, max int) error {
	resp, err := o.resourceClient(true).send(ctx, "GET", path, q, nil)
	if err != nil {
		return exitCodeOf(err)
	}
	defer resp.Body.Close()
	out := cmd.OutOrStdout()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	printed := 0
	for ; (max == 0 || printed < max) && sc.Scan(); printed++ {
		if o.output == "json" {
			fmt.Fprintln(out, sc.Text())
			continue
		}
		var line resourceapi.WatchLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("unexpected watch line: %w", err)
		}
		if line.Type == "error" {
			return exitCodeOf(&resourceError{status: 200, body: resourceapi.ErrorBody{Error: line.Error, Code: line.Code}, from: "watch"})
		}
		if line.Resource == nil {
			fmt.Fprintf(out, "%s %d\n", line.Type, line.Version)
			continue
		}
		res, err := resourceapi.UnmarshalResource(line.Resource)
		if err != nil {
			return fmt.Errorf("unexpected watch line: %w", err)
		}
		id := res.Id
		fmt.Fprintf(out, "%s %d %s/%s/%s/%s\n", line.Type, line.Version, resourceapi.FormatType(id.GetType()),
			id.GetTenancy().GetPartition(), id.GetTenancy().GetNamespace(), id.GetName())
	}
	if ctx.Err() != nil || (max > 0 && printed == max) {
		return nil // interrupted, or all the lines asked for: a normal end
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("watch stream: %w", err)
	}
	return fmt.Errorf("the server ended the watch stream")
}
