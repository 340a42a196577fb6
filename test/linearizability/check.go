package linearizability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/anishathalye/porcupine"
)

// CheckTimeout bounds porcupine's search per model. A search that runs out
// of time is reported as inconclusive, never as a pass.
var CheckTimeout = 60 * time.Second

// Verdict is the outcome of checking one run's history.
type Verdict struct {
	Ops          int      // operations recorded (register, multi-key, guarded lock writes)
	Unknown      int      // of which indeterminate
	Histories    int      // histories checked (one per model)
	Violations   []string // what went wrong
	Inconclusive []string // models porcupine could not decide in time
	Files        []string // artifacts written for a failed check
}

// Check checks a run's history: the register and multi-key operations with
// porcupine, register revisions for consistency, and the lock holds with
// fencing. On a violation it writes the history (JSON) and porcupine's HTML
// visualization under dir, named after name.
func Check(name, dir string, ops []Op, holds []Hold, finalCounter int64) Verdict {
	var v Verdict
	for _, op := range ops {
		v.Ops++
		if op.Unknown {
			v.Unknown++
		}
	}
	models := []struct {
		model string
		m     porcupine.Model
		keep  func(Op) bool
	}{
		{"register", RegisterModel, func(op Op) bool { _, ok := op.Input.(RegInput); return ok && keepOp(op) }},
		{"multikey", MultiModel, func(op Op) bool { _, ok := op.Input.(MultiInput); return ok && keepOp(op) }},
		{"sql-register", SQLRegisterModel, func(op Op) bool { _, ok := op.Input.(SQLRegInput); return ok && keepOp(op) }},
		{"resource-register", ResRegisterModel, func(op Op) bool { _, ok := op.Input.(ResRegInput); return ok && keepOp(op) }},
	}
	for _, m := range models {
		hist := porcupineOps(ops, m.keep)
		if len(hist) == 0 {
			continue
		}
		v.Histories++
		res, info := porcupine.CheckOperationsVerbose(m.m, hist, CheckTimeout)
		switch res {
		case porcupine.Illegal:
			v.Violations = append(v.Violations, fmt.Sprintf("%s history of %d operations is not linearizable", m.model, len(hist)))
			v.Files = append(v.Files, writeArtifacts(dir, name+"-"+m.model, m.m, info, hist)...)
		case porcupine.Unknown:
			v.Inconclusive = append(v.Inconclusive, fmt.Sprintf("%s: no verdict within %s (%d operations)", m.model, CheckTimeout, len(hist)))
		}
	}
	if bad := checkRevisions(ops); len(bad) > 0 {
		v.Violations = append(v.Violations, bad...)
		v.Files = append(v.Files, writeJSON(dir, name+"-revisions", ops))
	}
	if len(holds) > 0 {
		v.Histories++
		bad, ok, unknown := CheckLocks(holds, finalCounter)
		v.Ops += ok + unknown
		v.Unknown += unknown
		if len(bad) > 0 {
			v.Violations = append(v.Violations, bad...)
			v.Files = append(v.Files, writeJSON(dir, name+"-lock", holds))
		}
	}
	return v
}

// keepOp drops reads whose outcome is unknown: they changed nothing.
func keepOp(op Op) bool {
	if !op.Unknown {
		return true
	}
	switch in := op.Input.(type) {
	case RegInput:
		return in.Op != "get"
	case SQLRegInput:
		return in.Op != "get"
	case ResRegInput:
		return in.Op != "get"
	case MultiInput:
		return in.Op != "read"
	}
	return true
}

// checkRevisions checks that each register value is seen with one
// revision: the one its write was acknowledged with and the mod_revision
// every read of it reports.
func checkRevisions(ops []Op) []string {
	rev := map[string]int64{}
	var bad []string
	see := func(key, val string, r int64, how string) {
		if val == "" || r == 0 {
			return
		}
		if prev, ok := rev[key+"\x00"+val]; ok && prev != r {
			bad = append(bad, fmt.Sprintf("value %q of %s seen at revision %d and at %d (%s)", val, key, prev, r, how))
			return
		}
		rev[key+"\x00"+val] = r
	}
	for _, op := range ops {
		in, ok := op.Input.(RegInput)
		if !ok || op.Unknown {
			continue
		}
		out := op.Output.(RegOutput)
		switch {
		case in.Op == "get":
			see(in.Key, out.Value, out.Rev, "get")
		case in.Op == "put", in.Op == "cas" && out.OK:
			see(in.Key, in.Value, out.Rev, in.Op)
		}
		if in.Op == "cas" {
			see(in.Key, in.Expect, in.Rev, "cas guard")
		}
	}
	return bad
}

// ArtifactDir is where failed checks leave their files: $CONCORD_ARTIFACTS,
// or concord-artifacts in the system temp dir. It is never cleaned up.
func ArtifactDir() string {
	if d := os.Getenv("CONCORD_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "concord-artifacts")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func artifactPath(dir, name, ext string) string {
	_ = os.MkdirAll(dir, 0o755)
	return filepath.Join(dir, unsafeName.ReplaceAllString(name, "_")+ext)
}

func writeArtifacts(dir, name string, m porcupine.Model, info porcupine.LinearizationInfo, hist []porcupine.Operation) []string {
	files := []string{writeJSON(dir, name+"-history", hist)}
	html := artifactPath(dir, name, ".html")
	if err := porcupine.VisualizePath(m, info, html); err != nil {
		html = fmt.Sprintf("(visualization failed: %v)", err)
	}
	return append(files, html)
}

func writeJSON(dir, name string, v any) string {
	path := artifactPath(dir, name, ".json")
	b, err := json.MarshalIndent(v, "", " ")
	if err == nil {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		return fmt.Sprintf("(writing %s failed: %v)", path, err)
	}
	return path
}
