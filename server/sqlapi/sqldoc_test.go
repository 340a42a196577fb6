package sqlapi_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSQLDocExamples runs the curl examples of docs/sql.md, in order,
// against the API on a fresh database and checks the output shown
// exactly. (Once sqlstore is in main, the same examples also run against
// a cluster from the agent's tests.)
func TestSQLDocExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is not installed; the docs' examples need it")
	}
	a := newTestAPI(t, 0)
	addr := strings.TrimPrefix(a.url, "http://")
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
		if stdout.String() != ex.want {
			t.Errorf("docs/sql.md:%d: %s\n got: %s\nwant: %s", ex.line, ex.command, stdout.String(), ex.want)
		}
	}
}
