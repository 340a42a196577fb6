package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
)

// docExample is one "$ command" of a ```sh block with the output shown
// under it.
type docExample struct {
	line          int
	command, want string
}

// readDocExamples reads the examples of a markdown page. A command with a
// here-document (<<'EOF') takes the lines up to EOF.
func readDocExamples(t *testing.T, path string) []docExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out     []docExample
		inSh    bool
		heredoc bool
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case heredoc:
			out[len(out)-1].command += "\n" + line
			heredoc = line != "EOF"
		case line == "```sh":
			inSh = true
		case inSh && line == "```":
			inSh = false
		case inSh && strings.HasPrefix(line, "$ "):
			out = append(out, docExample{line: n, command: line[2:]})
			heredoc = strings.Contains(line, "<<'EOF'")
		case inSh && len(out) > 0:
			out[len(out)-1].want += line + "\n"
		}
	}
	return out
}

// placeholder matches a value that differs between runs, and the spaces
// a table pads it with.
var placeholder = regexp.MustCompile(`<(uid|version|generation)> *`)

// outputMatches compares got with the output a page shows, whose
// placeholders stand for any value.
func outputMatches(got, want string) bool {
	var re strings.Builder
	re.WriteString(`^`)
	last := 0
	for _, m := range placeholder.FindAllStringIndex(want, -1) {
		re.WriteString(regexp.QuoteMeta(want[last:m[0]]))
		re.WriteString(`[0-9A-Za-z]+ *`)
		last = m[1]
	}
	re.WriteString(regexp.QuoteMeta(want[last:]) + `$`)
	return regexp.MustCompile(re.String()).MatchString(got)
}

// splitArgs splits a command line on spaces, dropping single quotes.
func splitArgs(s string) []string {
	var args []string
	for _, f := range strings.Fields(s) {
		args = append(args, strings.Trim(f, "'"))
	}
	return args
}

// TestResourceDocExamples runs the examples of docs/resources.md, in
// order, against a fresh three-member cluster: curl lines through sh
// (against a follower), concord lines in-process, and checks their output
// (stdout and stderr together, as a terminal shows them).
func TestResourceDocExamples(t *testing.T) {
	for _, tool := range []string{"curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed; the docs' examples need it", tool)
		}
	}
	examples := readDocExamples(t, "../../docs/resources.md")
	if len(examples) < 15 {
		t.Fatalf("found only %d examples in docs/resources.md", len(examples))
	}
	c := agenttest.Start(t, 3, agenttest.Options{})
	addr := c.Endpoint(c.Follower())
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("CONCORD_ENDPOINTS", addr)
	for _, ex := range examples {
		var got string
		if strings.HasPrefix(ex.command, "concord ") {
			_, stdout, stderr := run(t, "", splitArgs(ex.command)[1:]...)
			got = stdout + stderr
		} else {
			cmd := exec.Command("sh", "-c", strings.ReplaceAll(ex.command, "localhost:2379", addr))
			cmd.Dir = dir
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			_ = cmd.Run() // an example may show a failure: its output says so
			got = out.String()
		}
		got = strings.ReplaceAll(got, addr, "127.0.0.1:2379")
		if !outputMatches(got, ex.want) {
			t.Errorf("docs/resources.md:%d: %s\n got: %s\nwant: %s", ex.line, ex.command, got, ex.want)
		}
	}
}
