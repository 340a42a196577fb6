package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad flags, arguments or environment variables
	// exitNotFound: concord kv get of a single key that does not exist.
	exitNotFound = 3
	// exitCompareFailed: a conditional write (kv put/del --prev-mod-revision,
	// kv txn) whose compare did not hold; nothing was written.
	exitCompareFailed = 4
)

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// envPrefix prefixes the environment variable of every flag:
// --peer-addr is also read from CONCORD_PEER_ADDR.
const envPrefix = "CONCORD_"

// usageError marks an error in how the command was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// execute runs the command line args and returns the process exit code.
func execute(args []string, stdout, stderr io.Writer) int {
	return executeCmd(newRootCmd(), args, stdout, stderr)
}

// executeCmd runs args on root and returns the process exit code.
func executeCmd(root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "concord: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitFailure
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "concord",
		Short: "concord: a Raft-replicated data store",
		Long: `concord keeps critical state identical on 3 to 7 machines and survives the
loss of a minority. This one binary is the server (concord agent) and the
command-line client.

Every flag can also be set through an environment variable: CONCORD_ and the
flag's name in upper case with '-' replaced by '_' (--peer-addr is
CONCORD_PEER_ADDR). A flag on the command line wins over the environment.`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd.Flags(), os.LookupEnv) },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newAgentCmd(), newStatusCmd(), newHealthCmd(), newMembersCmd(), newVersionCmd(), newKVCmd(), newBenchCmd(), newSnapshotCmd(), newSQLCmd(), newResourceCmd())
	root.AddCommand(newAuthCmds()...)
	wrapAllArgs(root)
	return root
}

// wrapAllArgs makes every command's argument errors usage errors.
func wrapAllArgs(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		c.Args = wrapArgs(c.Args)
		wrapAllArgs(c)
	}
}

// wrapArgs turns an argument validation error into a usage error.
func wrapArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		check = cobra.NoArgs
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// envName is the environment variable for a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// environment variable, if that is set.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" {
			return
		}
		v, ok := lookup(envName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("environment variable %s=%q: %v", envName(f.Name), v, err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return &usageError{err}
	}
	return nil
}
