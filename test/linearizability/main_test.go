package linearizability

import (
	"fmt"
	"os"
	"testing"
	"time"
)

var started = time.Now()

func TestMain(m *testing.M) {
	code := m.Run()
	PrintSummary(level, time.Since(started))
	if code == 0 {
		code = exitCodeForTotals()
	}
	os.Exit(code)
}

// level names what this test binary ran, for the summary line.
var level = "in-process+processes"

func exitCodeForTotals() int {
	totals.Lock()
	defer totals.Unlock()
	if totals.violations > 0 || totals.lost > 0 {
		fmt.Println("reliability: violations or lost writes")
		return 1
	}
	return 0
}
