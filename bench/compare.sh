#!/usr/bin/env bash
# bench/compare.sh: concord vs etcd, three durable members each on loopback,
# the same workloads against both, alternating, repeated; prints medians and
# concord/etcd ratios, CPU seconds per 10k operations, peak RSS and RSS with
# 1M keys loaded. Takes about 15 minutes; --quick about 3.
#
#   bench/compare.sh [--quick] [--out DIR] [--profile DIR] [other flags of concord bench compare]
#
# Builds concord from this checkout and installs etcd from Debian
# (etcd-server, /usr/bin/etcd) if it is missing. Every process it starts is
# stopped when it ends, also on Ctrl-C. With --baseline-concord BIN the
# baseline is that concord build instead of etcd (bench/ab.sh A/Bs two git
# revisions that way) and etcd is not needed.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline_concord=""
for a in "$@"; do
	case "$a" in --baseline-concord | --baseline-concord=*) baseline_concord=1 ;; esac
done
etcd_flag=()
if [ -z "$baseline_concord" ] && ! command -v etcd >/dev/null 2>&1; then
	echo "compare: etcd not found; installing Debian's etcd-server" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	$sudo apt-get install -y etcd-server >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y etcd-server >&2; }
	# The package may start a system etcd on 2379: it would compete for CPU.
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
		$sudo systemctl stop etcd || true
	fi
fi
if [ -z "$baseline_concord" ]; then
	etcd_flag=(--etcd "$(command -v etcd)")
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/concord-compare.XXXXXX")"
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

echo "compare: building concord" >&2
CGO_ENABLED=0 go build -trimpath -o "$tmp/concord" ./cmd/concord

"$tmp/concord" bench compare --concord "$tmp/concord" ${etcd_flag[@]+"${etcd_flag[@]}"} --work-dir "$tmp/work" "$@" &
pid=$!
wait "$pid"
