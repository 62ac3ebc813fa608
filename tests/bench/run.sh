#!/bin/bash
# Benchmarks (figures, not pass/fail). Run as root after scripts/build.sh:
#   sudo tests/bench/run.sh
# Prints: ns/packet of the flow program beside an empty TC program; records per
# second drained and encoded and the time to drain 1M flows; the daemon's RSS
# holding a 1M-flow table.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD:-$repo/build}"
l3afd="$build/src/cli/l3afd"
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (BPF)"; exit 77; }

echo "== flow program: BPF_PROG_TEST_RUN, ns per packet =="
"$build/tests/bench/bench_flow"
echo
echo "== drain and encode =="
"$build/tests/bench/bench_drain"
echo

echo "== daemon RSS with 1M flows in its table =="
ns="l3af-bench-$$"
conf="$(mktemp -d)"
pins="/sys/fs/bpf/l3af-bench-$$"
cleanup() {
	[ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	nsenter --net="/run/netns/$ns" "$l3afd" reset -c "$conf" >/dev/null 2>&1 || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$conf"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add bench0 type veth peer name bench1
ip -n "$ns" link set bench0 up
ip -n "$ns" link set bench1 up
cat >"$conf/bench.toml" <<TOML
[daemon]
pin_root = "$pins"
metrics = ""
[[collector]]
name = "sink"
address = "127.0.0.1"
port = 4739
[[flow_exporter]]
name = "bench"
interfaces = ["bench0"]
collectors = ["sink"]
poll_interval = "1s"
idle_timeout = "10m"
active_timeout = "30m"
max_flows = 1048576
TOML
chmod 644 "$conf/bench.toml"
nsenter --net="/run/netns/$ns" "$l3afd" run -c "$conf" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do
	[ -e "$pins/flow_exporter/bench/links/bench0@tc-ingress" ] && break
	sleep 0.1
done
rss_kb() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$pid/status"; }
echo "idle daemon:          VmRSS $(rss_kb VmRSS) kB"
map="$(ls -d "$pins"/flow_exporter/bench/*/flows)"
"$build/tests/bench/fill_flows" "$map" 1000000
sleep 3.5 # three polls over the full table
echo "after 3 polls of 1M:  VmRSS $(rss_kb VmRSS) kB, peak VmHWM $(rss_kb VmHWM) kB"
nsenter --net="/run/netns/$ns" "$l3afd" status -c "$conf" --json |
	/usr/bin/python3 -c 'import json,sys; e=json.load(sys.stdin)["flow_exporters"][0]; print("daemon saw", e.get("flows_active"), "active flows after", e.get("polls"), "polls")'
