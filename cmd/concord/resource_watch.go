package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/signal"
	"strconv"
	"syscall"
	"time"

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
duplicate, as long as the cluster still retains that history. When the
stream breaks after its snapshot (a member stops or restarts), the watch
resumes by itself from the last version printed on another of
--endpoints, for up to 30 s.`,
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
//
// When the stream breaks after its snapshot (its member stopped, the
// connection dropped, it fell behind its buffer), it watches again from
// the last version printed, on
// the first endpoint that answers, so a member's restart does not end it,
// as clientv3 (etcdctl watch) resumes etcd watches. It gives up after
// watchResumeFor without a new stream; a resume the cluster refuses (the
// history no longer reaches back) ends it with that error.
func watchResources(ctx context.Context, cmd *cobra.Command, o *resourceOptions, path string, q url.Values, max int) error {
	w := &resourceWatch{out: cmd.OutOrStdout(), json: o.output == "json", max: max}
	if v, err := strconv.ParseUint(q.Get("from_version"), 10, 64); err == nil && v > 0 {
		w.last, w.resumable = v, true
	}
	client := o.resourceClient(true)
	var broke time.Time // when the stream last broke; zero while one is open
	for {
		resp, err := client.send(ctx, "GET", path, q, nil)
		if err != nil {
			if broke.IsZero() || !retryableWatchError(err) || time.Since(broke) > watchResumeFor || ctx.Err() != nil {
				return exitCodeOf(err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(watchResumeWait):
			}
			continue
		}
		before := w.printed
		err = w.print(resp.Body)
		resp.Body.Close()
		if ctx.Err() != nil || w.done() {
			return nil // interrupted, or all the lines asked for: a normal end
		}
		var lost *watchBroken
		if !errors.As(err, &lost) || !w.resumable {
			return err
		}
		if broke.IsZero() || w.printed > before {
			broke = time.Now() // a stream that gave nothing does not restart the clock
		} else if time.Since(broke) > watchResumeFor {
			return err
		}
		q.Set("from_version", strconv.FormatUint(w.last, 10))
	}
}

// How long watchResources tries to resume a broken watch, and how long it
// waits between rounds of the endpoints.
const (
	watchResumeFor  = 30 * time.Second
	watchResumeWait = 200 * time.Millisecond
)

// resourceWatch is what watchResources has printed so far.
type resourceWatch struct {
	out       io.Writer
	json      bool
	max       int
	printed   int
	last      uint64 // the version of the last event printed
	resumable bool   // last is a resume point: the snapshot is complete
}

func (w *resourceWatch) done() bool { return w.max > 0 && w.printed >= w.max }

// watchBroken is a stream that ended without the server ending the watch
// for good: a member that stopped, a dropped connection, an overflow.
type watchBroken struct{ err error }

func (e *watchBroken) Error() string { return "the watch stream broke: " + e.err.Error() }

// print prints one stream's lines until it ends.
func (w *resourceWatch) print(body io.Reader) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for !w.done() && sc.Scan() {
		var line resourceapi.WatchLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("unexpected watch line: %w", err)
		}
		if line.Type == "error" {
			err := &resourceError{status: 200, body: resourceapi.ErrorBody{Error: line.Error, Code: line.Code}, from: "watch"}
			// A stopping member, or a watch that fell behind its
			// buffer: both are resumed from the last version.
			if line.Code == resourceapi.CodeUnavailable || line.Code == resourceapi.CodeWatchOverflow {
				return &watchBroken{err}
			}
			if w.json {
				fmt.Fprintln(w.out, sc.Text()) // -o json prints every line the server sent, as before
			}
			return exitCodeOf(err)
		}
		if err := w.printLine(sc.Bytes(), line); err != nil {
			return err
		}
		w.printed++
		switch line.Type {
		case "end_of_snapshot":
			w.last, w.resumable = line.Version, true
		case "upsert", "delete":
			if w.resumable {
				w.last = line.Version
			}
		}
	}
	if err := sc.Err(); err != nil {
		return &watchBroken{err}
	}
	if w.done() {
		return nil
	}
	return &watchBroken{errors.New("the server ended the watch stream")}
}

func (w *resourceWatch) printLine(raw []byte, line resourceapi.WatchLine) error {
	if w.json {
		_, err := fmt.Fprintln(w.out, string(raw))
		return err
	}
	if line.Resource == nil {
		_, err := fmt.Fprintf(w.out, "%s %d\n", line.Type, line.Version)
		return err
	}
	res, err := resourceapi.UnmarshalResource(line.Resource)
	if err != nil {
		return fmt.Errorf("unexpected watch line: %w", err)
	}
	id := res.Id
	_, err = fmt.Fprintf(w.out, "%s %d %s/%s/%s/%s\n", line.Type, line.Version, resourceapi.FormatType(id.GetType()),
		id.GetTenancy().GetPartition(), id.GetTenancy().GetNamespace(), id.GetName())
	return err
}

// retryableWatchError reports whether a failed (re)connection may succeed
// on a later round: no endpoint answered, or one answered that it cannot
// serve now. A refusal of the request itself (a compacted history, bad
// input, no permission) is final.
func retryableWatchError(err error) bool {
	var re *resourceError
	if errors.As(err, &re) {
		return re.status >= 500 || re.body.Code == resourceapi.CodeUnavailable
	}
	return true
}
