#!/usr/bin/env bash
# bench/sql-compare.sh: concord's SQL face vs its own KV puts and dqlite,
# three members each on loopback, 64 clients; prints medians and ratios
# and the issue's targets. Takes about 6 minutes with the defaults
# (3 repetitions of 10 s runs); --reps 1 --duration 5s about 2.
#
#   bench/sql-compare.sh [--out DIR] [--profile DIR] [other flags of concord bench compare --sql]
#
# Builds concord from this checkout and installs Debian's go-dqlite
# (dqlite-benchmark, a three-node dqlite on loopback) if it is missing;
# without it the dqlite columns stay empty. Every process it starts is
# stopped when it ends, also on Ctrl-C. CI does not run this.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dqlite-benchmark >/dev/null 2>&1; then
	echo "sql-compare: dqlite-benchmark not found; installing Debian's go-dqlite" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	$sudo apt-get install -y go-dqlite >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y go-dqlite >&2; } ||
		echo "sql-compare: could not install go-dqlite; running without the dqlite baseline" >&2
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/concord-sql-compare.XXXXXX")"
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true # it stops its members, then exits
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "sql-compare: building concord" >&2
CGO_ENABLED=0 go build -trimpath -o "$tmp/concord" ./cmd/concord

"$tmp/concord" bench compare --sql --concord "$tmp/concord" --work-dir "$tmp/work" "$@" &
pid=$!
wait "$pid"
