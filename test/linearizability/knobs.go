package linearizability

import (
	"os"
	"strconv"
	"time"
)

// The knobs of a run, from the environment (make torture sets them):
//
//	CONCORD_TORTURE=1     long version: more seeds, longer scenarios
//	CONCORD_SEEDS=N       seeds per scenario
//	CONCORD_DURATION=30s  workload duration per seed
//	CONCORD_SEED=N        first seed (default: random, printed)
//	CONCORD_ARTIFACTS=dir where failed histories and the summary go
//
// Knobs are a level's seeds and duration after the environment.
type Knobs struct {
	Seeds    int
	Duration time.Duration
	Seed     int64 // first seed
}

// RunKnobs returns the CI values, or the environment's.
func RunKnobs(ciSeeds int, ciDuration time.Duration) Knobs {
	k := Knobs{Seeds: ciSeeds, Duration: ciDuration, Seed: time.Now().UnixNano() % 1_000_000}
	if os.Getenv("CONCORD_TORTURE") != "" {
		k.Seeds, k.Duration = 5*ciSeeds, 3*ciDuration
	}
	if n, err := strconv.Atoi(os.Getenv("CONCORD_SEEDS")); err == nil && n > 0 {
		k.Seeds = n
	}
	if d, err := time.ParseDuration(os.Getenv("CONCORD_DURATION")); err == nil && d > 0 {
		k.Duration = d
	}
	if s, err := strconv.ParseInt(os.Getenv("CONCORD_SEED"), 10, 64); err == nil {
		k.Seed = s
	}
	return k
}
