package sqlapi_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
)

// TestSQLDocExamples runs the curl examples of docs/sql.md, in order,
// against the API on a fresh database (the sqlapitest stand-in) and checks
// the output shown exactly. TestSQLDocExamplesOnAgent runs them against a
// real member.
func TestSQLDocExamples(t *testing.T) {
	a := newTestAPI(t, 0)
	runDocExamples(t, strings.TrimPrefix(a.url, "http://"), strings.NewReplacer())
}

// TestSQLDocExamplesOnAgent runs the same examples against a one-member
// cluster of real agents (the replicated store behind the API), with the
// member's id and peer address in place of the doc's.
func TestSQLDocExamplesOnAgent(t *testing.T) {
	c := agenttest.Start(t, 1, agenttest.Options{})
	a := c.Agent(0)
	runDocExamples(t, c.Endpoint(0), strings.NewReplacer(`"node_id":"m1"`, `"node_id":"`+a.Node.ID()+`"`,
		`"addr":"127.0.0.1:1"`, `"addr":"`+a.Node.AdvertisePeerAddr()+`"`))
}

// runDocExamples runs every "$ " line of docs/sql.md's sh blocks against
// addr (for localhost:2379) and compares its output with the lines after
// it, passed through want.
func runDocExamples(t *testing.T, addr string, want *strings.Replacer) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is not installed; the docs' examples need it")
	}
	type example struct {
		line          int
		command, want string
	}
	f, err := os.Open("../../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var examples []example
	inSh := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "```sh":
			inSh = true
		case inSh && line == "```":
			inSh = false
		case inSh && strings.HasPrefix(line, "$ "):
			examples = append(examples, example{line: n, command: line[2:]})
		case inSh && len(examples) > 0:
			examples[len(examples)-1].want += line + "\n"
		}
	}
	if len(examples) < 10 {
		t.Fatalf("found only %d examples in docs/sql.md", len(examples))
	}
	for _, ex := range examples {
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(ex.command, "localhost:2379", addr))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("docs/sql.md:%d: %s: %v\n%s", ex.line, ex.command, err, stderr.String())
		}
		if w := want.Replace(ex.want); stdout.String() != w {
			t.Errorf("docs/sql.md:%d: %s\n got: %s\nwant: %s", ex.line, ex.command, stdout.String(), w)
		}
	}
}
