#!/bin/bash
# Time from `l3afd apply` start to the kernel matching the files, for 1, 10
# and 50 [[program]]s on one TCX hook, and the time of a no-op apply (the
# same files again), medians of ROUNDS runs, in a network namespace of its
# own with its own pin root (nsenter keeps /sys/fs/bpf; `ip netns exec` would
# remount /sys).
#
#   sudo tests/bench/programs_apply.sh [ROUNDS]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
L3AFD="${L3AFD:-$repo/build/src/cli/l3afd}"
OBJECT="$repo/build/bpf/examples/tc_counter.bpf.o"
ROUNDS="${1:-5}"
[ "$(id -u)" = 0 ] || { echo "programs_apply.sh: needs root" >&2; exit 77; }

ns="l3af-bench-$$"
dir="$(mktemp -d)"
pins="/sys/fs/bpf/l3af-bench-$$"
cleanup() {
	nsenter --net="/run/netns/$ns" "$L3AFD" reset -c "$dir/conf" >/dev/null 2>&1 || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add b0 type veth peer name b1
ip -n "$ns" link set b0 up
ip -n "$ns" link set b1 up
mkdir -m 0755 "$dir/conf"

write_config() {
	{
		printf '[daemon]\npin_root = "%s"\nmetrics = ""\n\n' "$pins"
		local i
		for ((i = 1; i <= $1; i++)); do
			printf '[[program]]\nname = "p%d"\nobject = "%s"\nfunction = "tc_counter"\n' "$i" "$OBJECT"
			printf 'hook = "tc-ingress"\ninterfaces = ["b0"]\npriority = %d\n\n' "$i"
		done
	} >"$dir/conf/00.toml"
}

ms() { echo "$(( ($2 - $1) / 1000000 ))"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
apply() { nsenter --net="/run/netns/$ns" "$L3AFD" apply -c "$dir/conf" >/dev/null; }

printf '%-10s %14s %14s\n' programs "apply (ms)" "no-op (ms)"
for n in 1 10 50; do
	write_config "$n"
	full=() noop=()
	for ((r = 0; r < ROUNDS; r++)); do
		nsenter --net="/run/netns/$ns" "$L3AFD" reset -c "$dir/conf" >/dev/null
		t0=$(date +%s%N); apply; t1=$(date +%s%N)
		attached=$(nsenter --net="/run/netns/$ns" bpftool -j net show dev b0 | jq '[.[0].tc[]? | select(.kind == "tcx/ingress")] | length')
		[ "$attached" = "$n" ] || { echo "expected $n programs on b0, found $attached" >&2; exit 1; }
		full+=("$(ms "$t0" "$t1")")
		t0=$(date +%s%N); apply; t1=$(date +%s%N)
		noop+=("$(ms "$t0" "$t1")")
	done
	printf '%-10s %14s %14s\n' "$n" "$(printf '%s\n' "${full[@]}" | median)" \
		"$(printf '%s\n' "${noop[@]}" | median)"
done
