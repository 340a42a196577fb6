package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// sqlLevels are the read consistency levels of the SQL API.
var sqlLevels = []string{"none", "weak", "linearizable", "strong"}

func newSQLCmd() *cobra.Command {
	o := &clientOptions{}
	var execute []string
	var mode, level string
	var timer bool
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "Run SQL on the replicated database: an interactive shell or a script",
		Long: `Run SQL on the cluster's replicated SQLite database through its HTTP API
(rqlite's /db/request). Without -e and with a terminal on stdin it is an
interactive shell like sqlite3's and rqlite's: statements end with ';' and may
span lines, and dot commands (.help lists them) show the schema, change the
output mode and read level, and back up or restore the database.

With -e, or with statements on stdin, it runs them in order and stops at the
first that fails: the exit code is 0 when all succeeded, 1 otherwise, 2 for
bad usage. Dot commands work in scripts too.`,
		Example: `  concord sql
  concord sql -e "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)" -e "INSERT INTO t(v) VALUES('a')"
  concord sql --mode csv -e "SELECT * FROM t" > t.csv
  concord sql --consistency linearizable < script.sql`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if !slices.Contains(sqlModes, mode) {
				return usagef("--mode %q: want one of %s", mode, strings.Join(sqlModes, ", "))
			}
			if !slices.Contains(sqlLevels, level) {
				return usagef("--consistency %q: want one of %s", level, strings.Join(sqlLevels, ", "))
			}
			api := o.client() // the endpoints and HTTP client with --cacert/--cert/--key applied
			sh := &sqlShell{
				client:  &sqlClient{endpoints: api.endpoints, http: api.http},
				timeout: o.timeout, out: cmd.OutOrStdout(), mode: mode, level: level, timer: timer,
			}
			if len(execute) > 0 {
				return runSQLExecute(sh, execute)
			}
			if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return runSQLInteractive(sh, f)
			}
			return runSQLScript(sh, cmd.InOrStdin())
		},
	}
	o.addFlags(cmd, false)
	cmd.Flags().StringArrayVarP(&execute, "execute", "e", nil, "run these statements and exit (repeatable; each may hold several ending in ';')")
	cmd.Flags().StringVar(&mode, "mode", "table", "output mode: table, json, csv or line")
	cmd.Flags().StringVar(&level, "consistency", "weak", "read level: none, weak, linearizable or strong")
	cmd.Flags().BoolVar(&timer, "timer", false, "print each statement's run time")
	return cmd
}

// runSQLScript runs every line of in; the first failure ends it with
// exit code 1. A last statement without its ';' runs too.
func runSQLScript(sh *sqlShell, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	line := 0
	for sc.Scan() && !sh.quit {
		line++
		if err := sh.feed(sc.Text()); err != nil {
			return scriptError(line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the statements: %w", err)
	}
	if err := sh.finish(); err != nil {
		return scriptError(line, err)
	}
	return nil
}

// runSQLExecute runs each -e as its own input, in order, so one's
// unterminated statement never runs into the next (`-e "SELECT 1" -e
// ".tables"` is a query and a dot command, not `SELECT 1 .tables`). The
// first failure stops the rest and names which -e it was.
func runSQLExecute(sh *sqlShell, inputs []string) error {
	for i, in := range inputs {
		if sh.quit {
			break
		}
		if err := runSQLScript(sh, strings.NewReader(in)); err != nil {
			if len(inputs) == 1 {
				return err
			}
			var ee *exitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.code, err: fmt.Errorf("-e #%d: %w", i+1, ee.err)}
			}
			return fmt.Errorf("-e #%d: %w", i+1, err)
		}
	}
	return nil
}

func scriptError(line int, err error) error {
	if errors.Is(err, errStatementFailed) {
		return &exitError{code: exitFailure, err: fmt.Errorf("stopped at line %d: the statement failed", line)}
	}
	return &exitError{code: exitFailure, err: fmt.Errorf("line %d: %w", line, err)}
}

// runSQLInteractive puts the terminal in raw mode and runs the shell on
// it until .quit or end of input.
func runSQLInteractive(sh *sqlShell, f *os.File) error {
	old, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	defer term.Restore(int(f.Fd()), old)
	return sqlREPL(sh, struct {
		io.Reader
		io.Writer
	}{f, sh.out}, loadSQLHistory(sqlHistoryPath()))
}

// sqlREPL reads lines from a terminal with line editing and history
// (up and down arrows), runs them, and shows errors without ending, until
// .quit or end of input (Ctrl-D).
func sqlREPL(sh *sqlShell, rw io.ReadWriter, history term.History) error {
	t := term.NewTerminal(rw, "concord> ")
	t.History = history
	sh.out = t
	fmt.Fprintf(t, "concord sql: connected to %s. Enter .help for the commands.\n", strings.Join(sh.client.endpoints, ","))
	for !sh.quit {
		if sh.continuing() {
			t.SetPrompt("    ...> ")
		} else {
			t.SetPrompt("concord> ")
		}
		line, err := t.ReadLine()
		if errors.Is(err, io.EOF) {
			return sh.finish()
		}
		if err != nil {
			return err
		}
		if err := sh.feed(line); err != nil && !errors.Is(err, errStatementFailed) {
			fmt.Fprintf(t, "Error: %v\n", err)
		}
	}
	return nil
}
