package linearizability

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// The knobs of a run, from the environment (make torture sets them):
//
//	CONCORD_TORTURE=1     long version: more seeds, longer scenarios
//	CONCORD_SEEDS=N       seeds per scenario
//	CONCORD_DURATION=30s  workload duration per seed
//	CONCORD_SEED=N        first seed (default: random, printed)
//	CONCORD_ARTIFACTS=dir where failed histories and the summary go
type knobs struct {
	seeds    int
	duration time.Duration
	seed     int64
}

func runKnobs(ciSeeds int, ciDuration time.Duration) knobs {
	k := knobs{seeds: ciSeeds, duration: ciDuration, seed: time.Now().UnixNano() % 1_000_000}
	if os.Getenv("CONCORD_TORTURE") != "" {
		k.seeds, k.duration = 5*ciSeeds, 3*ciDuration
	}
	if n, err := strconv.Atoi(os.Getenv("CONCORD_SEEDS")); err == nil && n > 0 {
		k.seeds = n
	}
	if d, err := time.ParseDuration(os.Getenv("CONCORD_DURATION")); err == nil && d > 0 {
		k.duration = d
	}
	if s, err := strconv.ParseInt(os.Getenv("CONCORD_SEED"), 10, 64); err == nil {
		k.seed = s
	}
	return k
}

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
