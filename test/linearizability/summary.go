package linearizability

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Totals add up the reports of a test binary's runs.
var totals struct {
	sync.Mutex
	runs, ops, unknown, faults, histories, violations, inconclusive, lost, acked int
}

// Record adds a report to the totals of this test binary.
func Record(r Report) {
	totals.Lock()
	defer totals.Unlock()
	totals.runs++
	totals.ops += r.Verdict.Ops
	totals.unknown += r.Verdict.Unknown
	totals.faults += r.Faults
	totals.histories += r.Verdict.Histories
	totals.violations += len(r.Verdict.Violations)
	totals.inconclusive += len(r.Verdict.Inconclusive)
	totals.lost += len(r.Lost)
	totals.acked += r.Acked
}

// Summary is the one line a run of a level prints: operations, faults
// injected, histories checked, violations and lost writes (both must be 0).
func Summary(level string, elapsed time.Duration) string {
	totals.Lock()
	defer totals.Unlock()
	return fmt.Sprintf("reliability summary: level=%s scenarios=%d operations=%d (unknown %d) faults=%d histories=%d violations=%d inconclusive=%d acknowledged_writes=%d lost=%d elapsed=%s",
		level, totals.runs, totals.ops, totals.unknown, totals.faults, totals.histories, totals.violations, totals.inconclusive,
		totals.acked, totals.lost, elapsed.Round(time.Second))
}

// PrintSummary prints the summary line on stdout and appends it to
// reliability-summary.txt in the artifact dir (go test hides a passing
// package's output; CI prints that file).
func PrintSummary(level string, elapsed time.Duration) {
	totals.Lock()
	runs := totals.runs
	totals.Unlock()
	if runs == 0 {
		return
	}
	line := Summary(level, elapsed)
	fmt.Println(line)
	dir := ArtifactDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "reliability-summary.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), line)
}

func quietZap() *zap.Logger { return zap.NewNop() }
