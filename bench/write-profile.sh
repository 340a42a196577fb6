#!/usr/bin/env bash
# bench/write-profile.sh: where a write's CPU goes, per operation. Starts a
# three-member cluster of the concord binary on loopback (durable, fsync on,
# pprof on the client ports), then for each workload named runs 64 closed-loop
# clients against all members while taking a CPU profile of every member, and
# prints the members' CPU (from /proc), the bench client's CPU and the
# throughput. The profiles go to DIR; merge a workload's three with
#
#   go tool pprof -top -cum DIR/cas-n1.pprof DIR/cas-n2.pprof DIR/cas-n3.pprof
#
# and divide by the operations in the profile window (ops/s × 15 s) for
# microseconds per operation. DIR/WORKLOAD-nI.allocs.pprof holds what each
# member allocated in the same window (go tool pprof
# -sample_index=alloc_objects). Workloads: put (KV puts, 10,000 keys) and
# cas (resource CAS writes on each client's own 10 resources, as
# resource-write-owned-64 in `concord bench compare --resource`).
#
#   bench/write-profile.sh DIR [BIN] [WORKLOAD...]     (default: concord in PATH; put cas)
#
# DURATION (default 20s) sets each run's length; the profile covers 15 s of it
# starting 3 s in, so DURATION must be at least 18s. Every process it starts
# is stopped when it ends, also on failure or Ctrl-C.
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,22p' "$0" >&2; exit 2; }
dir=$1
bin=${2:-$(command -v concord || true)}
shift $(($# >= 2 ? 2 : 1))
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(put cas)
[ -x "$bin" ] || { echo "write-profile: no concord binary (give BIN)" >&2; exit 2; }
duration=${DURATION:-20s}
mkdir -p "$dir"
data=$(mktemp -d)
pids=()
cleanup() {
	[ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$data"
}
trap cleanup EXIT INT TERM

port() { echo $((base + $1)); }
base=$((20000 + RANDOM % 20000))
eps=""
for i in 1 2 3; do
	args=(agent --node-id "n$i" --data-dir "$data/n$i" --client-addr "127.0.0.1:$(port $i)"
		--peer-addr "127.0.0.1:$(port $((i + 10)))" --pprof)
	if [ "$i" = 1 ]; then args+=(--bootstrap); else args+=(--join "127.0.0.1:$(port 11)"); fi
	"$bin" "${args[@]}" >"$dir/n$i.log" 2>&1 &
	pids+=($!)
	eps+="${eps:+,}127.0.0.1:$(port $i)"
	# Each member starts once the one before it is ready (joined, leader known).
	for _ in $(seq 300); do "$bin" health --endpoints "127.0.0.1:$(port $i)" >/dev/null 2>&1 && break; sleep 0.1; done
done
for i in 1 2 3; do
	"$bin" health --endpoints "127.0.0.1:$(port $i)" >/dev/null || { echo "write-profile: member n$i is not ready" >&2; exit 1; }
done

cpu() { # utime+stime of the members, in clock ticks
	local sum=0 f
	for p in "${pids[@]}"; do
		read -r -a f <"/proc/$p/stat"
		sum=$((sum + f[13] + f[14]))
	done
	echo "$sum"
}
hz=$(getconf CLK_TCK)

for w in "${workloads[@]}"; do
	case $w in
	put) load=(bench put --clients 64 --key-space 10000) ;;
	cas) load=(bench resource-write --owned-keys --clients 64 --key-space 640) ;;
	*) echo "write-profile: unknown workload $w (put, cas)" >&2; exit 2 ;;
	esac
	before=$(cpu)
	profs=()
	for i in 1 2 3; do
		(sleep 3 && curl -sf -o "$dir/$w-n$i.pprof" "http://127.0.0.1:$(port $i)/debug/pprof/profile?seconds=15") &
		profs+=($!)
		(sleep 3 && curl -sf -o "$dir/$w-n$i.allocs.pprof" "http://127.0.0.1:$(port $i)/debug/pprof/allocs?seconds=15") &
		profs+=($!)
	done
	/usr/bin/env time -f "%U %S" -o "$dir/$w.client-cpu" \
		"$bin" "${load[@]}" --endpoints "$eps" --duration "$duration" --warmup 2s -o json >"$dir/$w.json"
	after=$(cpu)
	wait "${profs[@]}"
	python3 - "$dir/$w.json" "$dir/$w.client-cpu" "$((after - before))" "$hz" "$w" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
u, s = (float(x) for x in open(sys.argv[2]).read().split()[-2:])
members = int(sys.argv[3]) / int(sys.argv[4])
print(f"{sys.argv[5]}: {r['ops_per_second']:.0f} ops/s, members' CPU {members / r['ops'] * 1e6:.0f} µs per op "
      f"(warmup included), client CPU {u + s:.1f} s, {r['ops'] * 15 / r['seconds']:.0f} ops in the profile window")
EOF
done
