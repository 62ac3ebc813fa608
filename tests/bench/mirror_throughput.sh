#!/bin/bash
# Throughput through the lab's appliance with mirroring (figures, not
# pass/fail): iperf3 TCP client -> server across l3a0/l3a1 with
#   none        no functions
#   flow        flow export on l3a0 (both directions, daemon running)
#   mirror0     a mirror of l3a0 whose rule matches none of the traffic
#   mirrorall   a mirror of everything on l3a0 to the analyzer, which discards
#   flow+all    flow export and the mirror of everything
# Each scenario runs RUNS times (default 3), SECONDS_PER_RUN each (default 5,
# at most 10); runs go round-robin over the scenarios so that drift in the
# machine's load spreads evenly. Prints each run, the median in Gbit/s and
# the ratio of the medians to "none".
#
#   sudo tests/bench/mirror_throughput.sh
#   sudo RUNS=5 SECONDS_PER_RUN=10 L3AFD=/path/to/l3afd tests/bench/mirror_throughput.sh
#
# The lab (tests/integration/lib/lab.bash, lab_setup --analyzer) has GRO, GSO
# and TSO off on every veth, so each packet is MTU-sized and every one is
# seen by the programs: a per-packet load, not a super-packet one.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export L3AFD="${L3AFD:-$repo/build/src/cli/l3afd}"
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
((SECONDS_PER_RUN <= 10)) || SECONDS_PER_RUN=10

# shellcheck source=../integration/lib/lab.bash
source "$repo/tests/integration/lib/lab.bash"

die() {
	echo "mirror_throughput: $*" >&2
	exit 1
}

reason=$(lab_missing)
[ -z "$reason" ] || {
	echo "mirror_throughput: skipped: $reason"
	exit 77
}
command -v iperf3 >/dev/null || {
	echo "mirror_throughput: skipped: needs iperf3"
	exit 77
}

trap 'set +e; l3afd_stop_and_reset; lab_teardown' EXIT
lab_setup --analyzer >/dev/null || die "could not build the lab"

lab_spawn iperf3 "$LAB_NS_SERVER" iperf3 -s -B "$LAB_SERVER_V4" -p 5201 || die "iperf3 server"
lab_wait_for 10 "iperf3 listening" _lab_tcp_listening "$LAB_NS_SERVER" 5201 "$(lab_pid iperf3)" ||
	die "iperf3 server not listening"
# The collector and the analyzer accept what they get and never read it.
lab_spawn csink "$LAB_NS_COLLECTOR" "$LAB_PYTHON" "$LAB_LIB_DIR/gue.py" sink --port 4739 || die sink
lab_spawn asink "$LAB_NS_ANALYZER" "$LAB_PYTHON" "$LAB_LIB_DIR/gue.py" sink --port 6080 || die sink

configure() {
	l3afd_config_daemon
	sed -i 's/^log_level = .*/log_level = "info"/' "$LAB_CONF/00-daemon.toml"
	case $1 in
	flow | flow+all)
		l3afd_config_collector c "$LAB_COLLECTOR_V4" 4739 udp
		L3AF_EXPORTER_POLL=1s L3AF_EXPORTER_IDLE=15s l3afd_config_exporter edge '"c"'
		;;
	esac
	case $1 in
	mirror0)
		l3afd_config_tunnel ana
		# TEST-NET-2 is nowhere in the lab: the rule matches no packet.
		l3afd_config_mirror m ana 0 '[[mirror.rule]]' 'dst = "198.51.100.0/24"'
		;;
	mirrorall | flow+all)
		l3afd_config_tunnel ana
		l3afd_config_mirror m ana 0 '[[mirror.rule]]'
		;;
	esac
}

# run_once SCENARIO: prints Gbit/s of one iperf3 run (receiver's figure).
run_once() {
	local scenario=$1 json bps
	if [ "$scenario" != none ]; then
		configure "$scenario"
		l3afd_start >/dev/null || die "l3afd did not attach for '$scenario' ($LAB_DIR/l3afd.log)"
	fi
	json=$(in_client iperf3 -c "$LAB_SERVER_V4" -p 5201 -t "$SECONDS_PER_RUN" -J 2>/dev/null)
	bps=$(jq -r '.end.sum_received.bits_per_second // empty' <<<"$json")
	[ -n "$bps" ] || die "iperf3 failed for '$scenario': $(jq -r '.error // "no result"' <<<"$json")"
	if [ "$scenario" = mirrorall ] || [ "$scenario" = flow+all ]; then
		# What the mirror did while iperf3 ran (stderr: not a figure).
		l3afd_status_json | jq -r --arg s "$scenario" '.mirrors[0] as $m | .tunnels[0] as $t |
			"  \($s): mirrored \($m.ingress.matched + $m.egress.matched), clone_failed " +
			"\($m.ingress.clone_failed + $m.egress.clone_failed), sent \($t.sent), " +
			"too_big \($t.too_big), failed \($t.failed)"' >&2
	fi
	if [ "$scenario" != none ]; then
		l3afd_stop >/dev/null
		l3afd_stop_and_reset
	fi
	awk -v b="$bps" 'BEGIN { printf "%.2f", b / 1e9 }'
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

scenarios=(none flow mirror0 mirrorall flow+all)
declare -A results
for ((run = 1; run <= RUNS; run++)); do
	for s in "${scenarios[@]}"; do
		results[$s]+="$(run_once "$s") " || exit 1
	done
done

echo "iperf3 TCP client -> server through the appliance, ${SECONDS_PER_RUN} s per run, $RUNS runs"
echo "(Gbit/s, receiver side; ratio = median / median with no functions)"
printf '%-38s %-24s %7s %6s\n' scenario runs median ratio
declare -A label=(
	[none]="no functions"
	[flow]="flow export (l3a0, both directions)"
	[mirror0]="mirror, a rule matching nothing"
	[mirrorall]="mirror everything (analyzer discards)"
	[flow+all]="flow export + mirror everything"
)
base=""
for s in "${scenarios[@]}"; do
	# shellcheck disable=SC2086 # the runs, space-separated
	m=$(median ${results[$s]})
	[ -n "$base" ] || base=$m
	printf '%-38s %-24s %7.2f %6.2f\n' "${label[$s]}" "${results[$s]% }" "$m" \
		"$(awk -v a="$m" -v b="$base" 'BEGIN { print (b > 0) ? a / b : 0 }')"
done
