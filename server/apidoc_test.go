package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/concord-db/concord/agent/agenttest"
)

// docExample is one "$ command" of docs/api.md and the output shown under it.
type docExample struct {
	line    int
	command string
	want    string
}

// readDocExamples collects the commands of the ```sh blocks of a document.
func readDocExamples(t *testing.T, path string) []docExample {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		examples []docExample
		inSh     bool
		cur      *docExample
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !inSh && line == "```sh":
			inSh = true
		case inSh && line == "```":
			inSh, cur = false, nil
		case inSh && strings.HasPrefix(line, "$ "):
			examples = append(examples, docExample{line: n, command: line[2:]})
			cur = &examples[len(examples)-1]
		case inSh && cur != nil:
			cur.want += line + "\n"
		}
	}
	return examples
}

// TestAPIDocExamples runs every example of docs/api.md, in order, against
// a fresh single-member cluster and checks the output shown (JSON is
// compared as values, anything else as text).
func TestAPIDocExamples(t *testing.T) {
	for _, tool := range []string{"curl", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the docs' examples need it", tool)
		}
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "concord"), "../cmd/concord")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build concord: %v\n%s", err, out)
	}
	c := agenttest.Start(t, 1, agenttest.Options{})
	addr := c.Agent(0).ClientAddr()
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "CONCORD_ENDPOINTS="+addr, "ETCDCTL_API=3")

	examples := readDocExamples(t, "../docs/api.md")
	if len(examples) < 20 {
		t.Fatalf("found only %d examples in docs/api.md", len(examples))
	}
	for _, ex := range examples {
		if strings.Contains(ex.command, "etcdctl") {
			if _, err := exec.LookPath("etcdctl"); err != nil && os.Getenv("CI") == "" {
				t.Logf("docs/api.md:%d: etcdctl not installed; skipping %q", ex.line, ex.command)
				continue
			}
		}
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(ex.command, "localhost:2379", addr))
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("docs/api.md:%d: %s: %v\n%s%s", ex.line, ex.command, err, stdout.String(), stderr.String())
		}
		if ex.want == "" {
			continue
		}
		if !sameOutput(ex.want, stdout.String()) {
			t.Errorf("docs/api.md:%d: %s\n got: %s\nwant: %s", ex.line, ex.command, stdout.String(), ex.want)
		}
	}
}

// sameOutput compares two outputs as sequences of JSON values when the
// expected one is JSON, else as text.
func sameOutput(want, got string) bool {
	wv, werr := jsonValues(want)
	if werr != nil {
		return strings.TrimSpace(want) == strings.TrimSpace(got)
	}
	gv, gerr := jsonValues(got)
	return gerr == nil && reflect.DeepEqual(wv, gv)
}

func jsonValues(s string) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var vs []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			if len(vs) == 0 {
				return nil, errors.New("no JSON")
			}
			return vs, nil
		}
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
}
