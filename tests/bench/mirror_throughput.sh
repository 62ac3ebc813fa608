#!/bin/bash
# Throughput and CPU cost through the lab's appliance with mirroring
# (figures, not pass/fail): iperf3 TCP client -> server across l3a0/l3a1 with
#   none        no functions
#   empty       a TCX program that does nothing on l3a0, both directions (no
#               daemon; bpf/empty.bpf.o): what any program costs, hook included
#   flow        flow export on l3a0 (both directions, daemon running)
#   mirror0     a mirror of l3a0 whose rule matches none of the traffic
#   mirrorall   a mirror of everything on l3a0 to the analyzer, which discards
#   flow+all    flow export and the mirror of everything
#
# The machine is shared and small: the same scenario's throughput varies by
# tens of percent from one run to the next, more than the effect measured.
# So the figures are built to survive that:
#  - ROUNDS short rounds (default 12 of SECONDS_PER_RUN = 2 s); each round
#    runs every scenario once, in an order rotated by one each round, and
#    each scenario is compared with the no-functions run of the same round.
#    The table gives the median of those per-round ratios and their min/max,
#    beside the median throughput.
#  - The CPU time the transfer cost: the iperf3 client and server (their own
#    getrusage, reported by iperf3; with tick-based accounting and no
#    IRQ_TIME_ACCOUNTING this includes the softirq work run in their
#    context: the veth hops, forwarding, the TC programs, the clones), the
#    ksoftirqd threads and l3afd, divided by the data packets l3a0 received.
#    A neighbour that takes CPU away lowers the throughput, not the CPU spent
#    per packet (it still costs cache), so this cost's per-round ratio is
#    the steadier figure. No PMU in this VM: time, not cycles.
#    Every data packet is a full 1448-byte segment, so per byte it is the
#    same ratio.
#  - Then, one more run per scenario with kernel.bpf_stats_enabled=1: run
#    count and run time of every program on l3a0, i.e. ns per packet of the
#    mirror program under real traffic. Only in that pass: the statistics
#    add two clock reads per program run, and the sysctl is global (other
#    people's programs pay too), so it is on for as short as possible and
#    restored to what it was.
#  - PIN=split runs the client on CPU 0 and the server on CPU 1 (iperf3
#    -A 0,1): veth delivers on the sending CPU, so the forward path runs on
#    CPU 0 and the ACK path on CPU 1. It did not narrow the spread here (four
#    runs of 12 rounds: Gbit/s varied as much or more, per-round ratios as
#    much), so the default, PIN=none, leaves placement to the scheduler.
#  - The last table turns each scenario's program time beyond the empty
#    program's (the statistics' clock read and the call) into the throughput
#    that work alone would cost a CPU-bound path: base / (base + beyond),
#    base being the no-functions path's CPU per data packet. The TCX hook
#    around the programs is the "empty" scenario's share; a clone's own
#    journey (tunnel veth, encapsulation, analyzer link) is in no program's
#    time, so for "mirror everything" it is only a bound.
#
#   sudo tests/bench/mirror_throughput.sh
#   sudo ROUNDS=30 SECONDS_PER_RUN=3 PIN=split L3AFD=/path/to/l3afd tests/bench/mirror_throughput.sh
#
# About 4 minutes with the defaults. LAB_KEEP=1 keeps the lab directory, with
# every run's figures in its file "rounds". STATS=0 skips the bpf_stats pass.
#
# The lab (tests/integration/lib/lab.bash, lab_setup --analyzer) has GRO, GSO
# and TSO off on every veth, so each packet is MTU-sized and every one is
# seen by the programs: a per-packet load, not a super-packet one.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export L3AFD="${L3AFD:-$repo/build/src/cli/l3afd}"
ROUNDS=${ROUNDS:-12}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-2}
((SECONDS_PER_RUN <= 10)) || SECONDS_PER_RUN=10
PIN=${PIN:-none}
STATS=${STATS:-1}
EMPTY_BPF=${EMPTY_BPF:-$(dirname "$L3AFD")/../../bpf/empty.bpf.o}

# shellcheck source=../integration/lib/lab.bash
source "$repo/tests/integration/lib/lab.bash"

die() {
	echo "mirror_throughput: $*" >&2
	exit 1
}
skip() {
	echo "mirror_throughput: skipped: $*"
	exit 77
}

reason=$(lab_missing)
[ -z "$reason" ] || skip "$reason"
command -v iperf3 >/dev/null || skip "needs iperf3"
case $PIN in
split)
	(($(nproc) >= 2)) || skip "PIN=split needs two CPUs (PIN=none runs anywhere)"
	pin_args=(-A "0,1")
	;;
none) pin_args=() ;;
*) die "PIN is split or none, not '$PIN'" ;;
esac
[ -r "$EMPTY_BPF" ] || skip "needs the empty TC program (EMPTY_BPF=$EMPTY_BPF)"
stats_saved=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) || STATS=0

restore_bpf_stats() {
	[ -z "${stats_saved:-}" ] || sysctl -qw kernel.bpf_stats_enabled="$stats_saved"
}
trap 'set +e; restore_bpf_stats; l3afd_stop_and_reset; lab_teardown' EXIT
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

# The empty program, loaded once per hook (one program on both would share
# its run statistics) and pinned in the lab's bpf filesystem, attached and
# detached around its runs like the daemon around the others.
for hook in ingress egress; do
	bpftool prog load "$EMPTY_BPF" "$LAB_BPFFS/bench-empty-$hook" || die "could not load $EMPTY_BPF"
done
attach_empty() {
	in_appl bpftool net attach tcx_ingress pinned "$LAB_BPFFS/bench-empty-ingress" dev l3a0 &&
		in_appl bpftool net attach tcx_egress pinned "$LAB_BPFFS/bench-empty-egress" dev l3a0
}
detach_empty() {
	in_appl bpftool net detach tcx_ingress dev l3a0
	in_appl bpftool net detach tcx_egress dev l3a0
}

clock_ticks=$(getconf CLK_TCK)
mapfile -t ksoftirqd_pids < <(ps -eo pid=,comm= | awk '$2 ~ /^ksoftirqd\// { print $1 }')

# cpu_ns PID...: user + system time of the processes so far, in ns (0 for
# one that is gone). Field 2 of /proc/PID/stat may hold spaces: count from
# the closing parenthesis.
cpu_ns() {
	local pid total=0 t
	for pid in "$@"; do
		t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		total=$((total + ${t:-0}))
	done
	echo $((total * 1000000000 / clock_ticks))
}

l3a0_rx_packets() { ip -n "$LAB_NS_APPL" -s -j link show l3a0 | jq '.[0].stats64.rx.packets'; }

# prog_stats: "ID NAME HOOK RUN_CNT RUN_TIME_NS" for every program on l3a0.
prog_stats() {
	local id name hook
	in_appl bpftool -j net show dev l3a0 |
		jq -r '.[0].tc[]? | "\(.prog_id) \(.name) \(.kind)"' |
		while read -r id name hook; do
			echo "$id $name $hook $(bpftool -j prog show id "$id" |
				jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"')"
		done
}

# run_once SCENARIO [bpf_stats]: one iperf3 run; prints
#   Gbit/s data_packets path_cpu_ns client_ns server_ns ksoftirqd_ns l3afd_ns
# or, with bpf_stats, one "NAME HOOK RUNS RUN_TIME_NS DATA_PACKETS" line per
# program.
run_once() {
	local scenario=$1 mode=${2:-}
	local daemon_pid="" json packets0 packets1 soft0 soft1 daemon0=0 daemon1=0 stats0=""
	if [ "$scenario" = empty ]; then
		attach_empty || die "could not attach the empty program to l3a0"
	elif [ "$scenario" != none ]; then
		configure "$scenario"
		l3afd_start >/dev/null || die "l3afd did not attach for '$scenario' ($LAB_DIR/l3afd.log)"
		daemon_pid=$(lab_pid l3afd)
	fi
	if [ "$mode" = bpf_stats ]; then
		sysctl -qw kernel.bpf_stats_enabled=1
		stats0=$(prog_stats)
	fi
	packets0=$(l3a0_rx_packets)
	soft0=$(cpu_ns "${ksoftirqd_pids[@]}")
	[ -z "$daemon_pid" ] || daemon0=$(cpu_ns "$daemon_pid")
	json=$(in_client iperf3 -c "$LAB_SERVER_V4" -p 5201 -t "$SECONDS_PER_RUN" "${pin_args[@]}" -J 2>/dev/null)
	[ -z "$daemon_pid" ] || daemon1=$(cpu_ns "$daemon_pid")
	soft1=$(cpu_ns "${ksoftirqd_pids[@]}")
	packets1=$(l3a0_rx_packets)
	if [ "$mode" = bpf_stats ]; then
		# "ID NAME HOOK RUNS NS" before and after, joined on the id.
		join <(echo "$stats0" | sort) <(prog_stats | sort) |
			awk -v p=$((packets1 - packets0)) '{ print $2, $3, $8 - $4, $9 - $5, p }'
		restore_bpf_stats
	fi
	jq -e '.end.sum_received.bits_per_second' >/dev/null 2>&1 <<<"$json" ||
		die "iperf3 failed for '$scenario': $(jq -r '.error // "no result"' <<<"$json" 2>/dev/null)"
	if [ "$scenario" = mirrorall ] || [ "$scenario" = flow+all ]; then
		# What the mirror did while iperf3 ran: kept for the summary.
		l3afd_status_json | jq -r '.mirrors[0] as $m | .tunnels[0] as $t |
			"\($m.ingress.matched + $m.egress.matched) \($m.ingress.clone_failed + $m.egress.clone_failed) " +
			"\($t.sent) \($t.too_big) \($t.failed)"' >>"$LAB_DIR/mirror_counts"
	fi
	if [ "$scenario" = empty ]; then
		detach_empty
	elif [ "$scenario" != none ]; then
		l3afd_stop >/dev/null
		l3afd_stop_and_reset
	fi
	[ "$mode" = bpf_stats ] && return 0
	# iperf3's CPU figures are percentages of the test's duration.
	jq -r --argjson p $((packets1 - packets0)) --argjson s $((soft1 - soft0)) \
		--argjson d $((daemon1 - daemon0)) '
		.end.sum_sent.seconds as $t |
		(.end.cpu_utilization_percent.host_total / 100 * $t * 1e9) as $c |
		(.end.cpu_utilization_percent.remote_total / 100 * $t * 1e9) as $r |
		"\(.end.sum_received.bits_per_second / 1e9) \($p) \($c + $r + $s + $d) \($c) \($r) \($s) \($d)"' \
		<<<"$json"
}

scenarios=(none empty flow mirror0 mirrorall flow+all)
declare -A label=(
	[none]="no functions"
	[empty]="empty TCX program (both directions)"
	[flow]="flow export (l3a0, both directions)"
	[mirror0]="mirror, a rule matching nothing"
	[mirrorall]="mirror everything (analyzer discards)"
	[flow+all]="flow export + mirror everything"
)
results="$LAB_DIR/rounds"
: >"$results"
: >"$LAB_DIR/mirror_counts"
start=$SECONDS
for ((round = 1; round <= ROUNDS; round++)); do
	n=${#scenarios[@]}
	progress="round $round/$ROUNDS:"
	for ((i = 0; i < n; i++)); do
		s=${scenarios[$(((i + round - 1) % n))]}
		line=$(run_once "$s") || exit 1
		echo "$round $s $line" >>"$results"
		progress+=" $s $(awk '{ printf "%.2f", $1 }' <<<"$line")"
	done
	echo "$progress" >&2
done
rounds_took=$((SECONDS - start))

if ((STATS)); then
	: >"$LAB_DIR/bpf_stats"
	for s in "${scenarios[@]:1}"; do
		run_once "$s" bpf_stats | sed "s/^/$s /" >>"$LAB_DIR/bpf_stats" || exit 1
	done
fi

# summarize SCENARIO...: the two tables, from the rounds file (one line per
# run: round scenario Gbit/s packets path_ns client_ns server_ns ksoftirqd_ns
# l3afd_ns).
summarize() {
	awk -v order="$*" -v labels="$(for s in "$@"; do printf '%s\t' "${label[$s]}"; done)" '
		# Sorts a[1..n] in place (insertion: a dozen values).
		function sort(a, n,   i, j, t) {
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		}
		# The p-quantile of sorted a[1..n], interpolated.
		function q(a, n, p,   x, i) {
			x = 1 + (n - 1) * p; i = int(x)
			return (i >= n) ? a[n] : a[i] + (x - i) * (a[i + 1] - a[i])
		}
		function stats(a, n) {
			sort(a, n)
			return sprintf("%4.2f  %4.2f..%4.2f  %4.2f..%4.2f", q(a, n, 0.5), q(a, n, 0.25), q(a, n, 0.75), a[1], a[n])
		}
		{
			gbps[$2, $1] = $3; cost[$2, $1] = $5 / $4
			part[$2, $1, 1] = $6 / $4; part[$2, $1, 2] = $7 / $4; part[$2, $1, 3] = $8 / $4; part[$2, $1, 4] = $9 / $4
			if (!($1 in seen)) { seen[$1] = 1; rounds[++nr] = $1 }
		}
		END {
			ns = split(order, sc, " "); split(labels, lb, "\t")
			printf "%-38s %-16s %-25s\n", "", "Gbit/s", "throughput ratio to none"
			printf "%-38s %-16s %-25s\n", "scenario", "med  min..max", "med  q1..q3      min..max"
			for (k = 1; k <= ns; k++) {
				s = sc[k]; delete g; delete r
				for (i = 1; i <= nr; i++) { g[i] = gbps[s, rounds[i]]; r[i] = g[i] / gbps[sc[1], rounds[i]] }
				sort(g, nr)
				printf "%-38s %4.2f %4.2f..%4.2f %s\n", lb[k], q(g, nr, 0.5), g[1], g[nr], stats(r, nr)
			}
			printf "\n%-38s %-34s %-25s\n", "", "CPU ns per data packet (medians)", "CPU-cost ratio to none"
			printf "%-38s %6s %6s %6s %6s %6s  %-25s\n", "scenario", "path", "client", "server", "ksirqd", "l3afd", "med  q1..q3      min..max"
			for (k = 1; k <= ns; k++) {
				s = sc[k]; delete c; delete r
				for (i = 1; i <= nr; i++) { c[i] = cost[s, rounds[i]]; r[i] = c[i] / cost[sc[1], rounds[i]] }
				sort(c, nr)
				printf "%-38s %6.0f", lb[k], q(c, nr, 0.5)
				for (p = 1; p <= 4; p++) {
					delete v
					for (i = 1; i <= nr; i++) v[i] = part[s, rounds[i], p]
					sort(v, nr); printf " %6.0f", q(v, nr, 0.5)
				}
				printf "  %s\n", stats(r, nr)
			}
		}' "$results"
}

echo "iperf3 TCP client -> server through the appliance: $ROUNDS rounds of ${SECONDS_PER_RUN} s per" \
	"scenario, order rotated each round, PIN=$PIN ($rounds_took s)"
echo "Gbit/s: receiver side. Ratios: per round, the scenario over the same round's 'no functions';"
echo "median, quartiles and min..max over the rounds. CPU: iperf3 client + server + ksoftirqd +"
echo "l3afd CPU time per data packet received on l3a0 (1448-byte segments)."
echo
summarize "${scenarios[@]}"

if [ -s "$LAB_DIR/mirror_counts" ]; then
	awk '{ m += $1; cf += $2; sent += $3; tb += $4; f += $5 }
		END { printf "\nmirror everything, all runs: mirrored %d, clone_failed %d, sent %d, too_big %d, failed %d\n",
			m, cf, sent, tb, f }' "$LAB_DIR/mirror_counts"
fi

if ((STATS)) && [ -s "$LAB_DIR/bpf_stats" ]; then
	# The no-functions path's CPU per data packet (median of the rounds): what
	# the programs' time is set against.
	base=$(awk '$2 == "none" { print $5 / $4 }' "$results" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	echo
	echo "Programs on l3a0 under iperf3 (kernel.bpf_stats_enabled=1, one ${SECONDS_PER_RUN} s run per"
	echo "scenario). ns/run includes the statistics' own clock read (see the empty program). Per"
	echo "data packet: the programs' time over the data packets l3a0 received (ACKs leave by egress)."
	printf '%-10s %-16s %-12s %9s %7s %11s\n' scenario program hook runs ns/run "ns/data pkt"
	awk '{ printf "%-10s %-16s %-12s %9d %7.1f %11.1f\n", $1, $2, $3, $4, $4 ? $5 / $4 : 0, $6 ? $5 / $6 : 0 }' \
		"$LAB_DIR/bpf_stats"
	echo
	# Under bpf_stats even the empty program takes tens of ns per run: the
	# statistics' clock read and the call. What a program does beyond that
	# floor is its own work.
	floor=$(awk '$1 == "empty" { n += $4; t += $5 } END { print n ? t / n : 0 }' "$LAB_DIR/bpf_stats")
	echo "Per data packet: the programs' time, then their time beyond the empty program's"
	echo "($(printf '%.1f' "$floor") ns/run, the floor), and the throughput factor that work alone would cost a"
	echo "CPU-bound path: base / (base + beyond), base = $(printf '%.0f' "$base") ns (no functions' CPU per"
	echo "data packet). The TCX hook around a program is not in its time: the 'empty' row of the CPU"
	echo "table above shows what attaching any program costs. A clone's own journey (tunnel veth,"
	echo "encapsulation, analyzer link) is not in the mirror program's time either."
	awk -v base="$base" -v floor="$floor" \
		-v labels="$(for s in "${scenarios[@]}"; do printf '%s=%s\t' "$s" "${label[$s]}"; done)" '
		BEGIN {
			n = split(labels, l, "\t")
			for (i = 1; i <= n; i++) { k = l[i]; sub(/=.*/, "", k); v = l[i]; sub(/^[^=]*=/, "", v); name[k] = v }
		}
		$6 > 0 {
			if (!($1 in t)) order[++m] = $1
			t[$1] += $5 / $6; beyond[$1] += ($5 - floor * $4) / $6
		}
		END {
			for (i = 1; i <= m; i++) {
				s = order[i]
				b = (beyond[s] > -0.05 && beyond[s] < 0.05) ? 0 : beyond[s] # no "-0.0"
				printf "%-38s %7.1f ns %7.1f ns  %5.3f\n", name[s], t[s], b, base / (base + b)
			}
		}' "$LAB_DIR/bpf_stats"
fi
