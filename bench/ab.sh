#!/usr/bin/env bash
# bench/ab.sh: A/B two builds of concord. Builds concord at git revisions
# REV_A and REV_B, starts a three-member cluster of each on loopback (durable,
# fsync on) and runs the same workloads against both, alternating, repeated,
# with `concord bench compare --baseline-concord`: the table gives medians and
# B/A ratios (the "concord" columns are B, the columns named after REV_A's
# short hash are A), CPU seconds per 10k operations and peak RSS. On a shared,
# noisy machine only such same-run ratios mean anything.
#
#   bench/ab.sh REV_A REV_B [flags of concord bench compare...]
#
# Recommended (64- and 256-client puts, 3 repetitions of 5s, about 3 minutes
# after the builds):
#
#   bench/ab.sh HEAD~1 HEAD --reps 3 --duration 5s --only put-64,put-256 --mem-keys -1
#
# The flags are passed through unchanged; without any, every workload runs 3
# times for 10s and the memory check loads 1M keys (about 15 minutes). Add
# --out DIR to keep results.json and table.md, --profile DIR for profiles of
# the B members. `bench/ab.sh HEAD HEAD ...` is an A/A run: it shows how far
# the ratios stray from 1.00 on this machine from noise alone.
#
# Each revision is checked out with `git worktree add` into a temporary
# directory and built with `go build`; the command that drives the
# comparison (and generates the load for both) is built from this checkout.
# The worktrees, binaries and data are removed when it ends, also on failure
# or Ctrl-C, and every process it starts is stopped.
set -euo pipefail

usage() {
	echo "usage: bench/ab.sh REV_A REV_B [flags of concord bench compare...]" >&2
	echo "  e.g. bench/ab.sh HEAD~1 HEAD --reps 3 --duration 5s --only put-64,put-256 --mem-keys -1" >&2
	exit 2
}
if [ $# -lt 2 ] || [[ "$1" == -* ]] || [[ "$2" == -* ]]; then
	usage
fi
rev_a=$1 rev_b=$2
shift 2

cd "$(dirname "$0")/.."
resolve() {
	git rev-parse --verify --quiet "$1^{commit}" || { echo "ab: $1 is not a commit" >&2; exit 2; }
}
sha_a=$(resolve "$rev_a")
sha_b=$(resolve "$rev_b")
short_a=$(git rev-parse --short "$sha_a")
short_b=$(git rev-parse --short "$sha_b")

tmp="$(mktemp -d "${TMPDIR:-/tmp}/concord-ab.XXXXXX")"
worktrees=()
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true # it stops its members, then exits
		wait "$pid" 2>/dev/null || true
	fi
	for wt in ${worktrees[@]+"${worktrees[@]}"}; do
		git worktree remove --force "$wt" 2>/dev/null || echo "ab: could not remove worktree $wt; see git worktree list" >&2
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# build NAME SHA SHORT: concord at SHA, as $tmp/concord-NAME, whose
# `concord version` (in the table's "Builds" line and results.json) says SHORT.
build() {
	local wt="$tmp/src-$1"
	echo "ab: building $1 = $(git log -1 --format='%h %s' "$2")" >&2
	git worktree add --quiet --detach "$wt" "$2"
	worktrees+=("$wt")
	(cd "$wt" && CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$3" -o "$tmp/concord-$1" ./cmd/concord)
}
build A "$sha_a" "$short_a"
build B "$sha_b" "$short_b"
echo "ab: building the driver from this checkout" >&2
CGO_ENABLED=0 go build -trimpath -o "$tmp/concord" ./cmd/concord

echo "ab: baseline A = $short_a, concord B = $short_b; ratios are B/A" >&2
"$tmp/concord" bench compare --concord "$tmp/concord-B" --baseline-concord "$tmp/concord-A" \
	--baseline-label "$short_a" --work-dir "$tmp/work" "$@" &
pid=$!
wait "$pid"
