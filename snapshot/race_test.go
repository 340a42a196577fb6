//go:build race

package snapshot

// The race detector slows hashing and compression down ~10x: keep the
// large and exhaustive tests within their time budget.
func init() {
	raceEnabled = true
	largeStateSize = 8 << 20
}
