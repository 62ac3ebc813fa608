#!/usr/bin/env bats
# [[program]]: any eBPF program on the appliance's l3a0, in priority order
# with the built-in functions, on TCX and on the legacy cls_bpf path;
# updates, no-op reloads and kill -9 open no gap in the datapath; map
# contents survive; foreign filters and XDP programs are left alone; an
# interface recreated gets its programs back; a verifier rejection leaves
# the previous version running; bad input changes nothing in the kernel.
#
# The order is read from the packets themselves: order_stamp writes its id
# (from its `stamp` map) into the first free slot of a UDP payload.

load lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	PROGRAMS="$LAB_REPO/build/tests/integration/programs"
	EXAMPLES="$LAB_REPO/build/bpf/examples"
	STAMP="$PROGRAMS/order_stamp.bpf.o"
	l3afd_config_daemon
	rm -f "$LAB_CONF/50-programs.toml"
}
teardown() {
	in_appl tc qdisc del dev l3a0 clsact 2>/dev/null || true
	in_appl ip link set dev l3a0 xdpgeneric off 2>/dev/null || true
	rm -rf "${LAB_BPFFS:?}/foreign-xdp"
	in_appl ip link del l3x0 2>/dev/null || true
	suite_teardown
}

# map_number MAP KEY... : the little-endian integer in the first N bytes of
# the value at KEY (N: $BYTES, default 8), summed over CPUs for per-CPU maps.
map_number() {
	local map=$1
	shift
	bpftool -j map lookup pinned "$map" key "$@" | BYTES=${BYTES:-8} "$LAB_PYTHON" -c '
import json, os, sys
d = json.load(sys.stdin)
n = int(os.environ["BYTES"])
values = [v["value"] for v in d["values"]] if "values" in d else [d["value"]]
print(sum(int.from_bytes(bytes(int(b, 16) for b in v[:n]), "little") for v in values))'
}

# program NAME OBJECT FUNCTION HOOK PRIORITY [INTERFACE] [extra lines...]
program() {
	local name=$1 object=$2 function=$3 hook=$4 priority=$5 interface=${6:-l3a0}
	shift 6 2>/dev/null || shift $#
	{
		echo "[[program]]"
		echo "name = \"$name\""
		echo "object = \"$object\""
		echo "function = \"$function\""
		echo "hook = \"$hook\""
		echo "interfaces = [\"$interface\"]"
		echo "priority = $priority"
		local line
		for line in "$@"; do echo "$line"; done
		echo
	} >>"$LAB_CONF/50-programs.toml"
}

# stamper NAME ID PRIORITY [HOOK]: order_stamp with its id set in its map.
stamper() {
	local hook=${4:-tc-ingress} function=tc_stamp
	[ "$hook" = xdp ] && function=xdp_stamp
	program "$1" "$STAMP" "$function" "$hook" "$3" l3a0 \
		"[program.maps.stamp]" "entries = [ { key = 0, value = $2 } ]"
}

legacy() { echo 'tc_mode = "legacy"' >>"$LAB_CONF/00-daemon.toml"; }

# run_order [COUNT]: the ids stamped into COUNT packets client -> server, one
# line per packet ("[2, 3, 1]").
run_order() {
	local count=${1:-3} out="$BATS_TEST_TMPDIR/order"
	in_server "$LAB_PYTHON" "$LAB_LIB_DIR/stamp.py" receive --count "$count" --timeout 5 >"$out" &
	local receiver=$!
	sleep 0.3
	in_client "$LAB_PYTHON" "$LAB_LIB_DIR/stamp.py" send --dst "$LAB_SERVER_V4" --count "$count"
	wait "$receiver" || true
	sort -u "$out"
}

plan_is_empty() { [ "$(l3afd_cmd plan)" = "nothing to do" ]; }
reload_and_settle() {
	l3afd_cmd reload >/dev/null
	lab_wait_for 10 "the daemon to apply the files" plan_is_empty
}

# The kernel's state of everything on l3a0 and under pin_root, for
# before/after comparisons.
kernel_dump() {
	in_appl bpftool -j net show dev l3a0 | jq -S .
	in_appl tc filter show dev l3a0 ingress
	in_appl tc filter show dev l3a0 egress
	find "$LAB_PIN_ROOT" | sort
	local m
	for m in "$LAB_PIN_ROOT"/program/*/maps/*; do
		[ -e "$m" ] && bpftool -j map dump pinned "$m" | jq -S -c .
	done
	return 0
}

@test "TCX: programs run in priority order, with the flow exporter, and reordering the TOML changes it" {
	l3afd_config_collector soc "$LAB_COLLECTOR_V4" 4739 udp
	l3afd_config_exporter edge '"soc"'
	stamper one 1 30
	stamper two 2 10
	stamper three 3 20
	l3afd_start
	assert_eq "[2, 3, 1]" "$(run_order)" "stamped order at priorities 30, 10, 20"
	# The exporter (priority 10 < programs' 100 default, here tied with 'two':
	# kind breaks the tie) sits in the same TCX chain.
	assert_eq "flow_ingress tc_stamp tc_stamp tc_stamp" \
		"$(in_appl bpftool -j net show dev l3a0 | jq -r '[.[0].tc[] | select(.kind == "tcx/ingress") | .name] | join(" ")')" \
		"TCX chain on l3a0 ingress"

	sed -i 's/^priority = 30$/priority = 5/' "$LAB_CONF/50-programs.toml"
	reload_and_settle
	assert_eq "[1, 2, 3]" "$(run_order)" "stamped order after 'one' moved to priority 5"
}

@test "legacy cls_bpf: the same order by filter priority, and reordering changes it" {
	legacy
	stamper one 1 30
	stamper two 2 10
	stamper three 3 20
	l3afd_start
	assert_eq "[2, 3, 1]" "$(run_order)" "stamped order at priorities 30, 10, 20"
	assert_eq "10 20 30" "$(in_appl tc -j filter show dev l3a0 ingress | jq -r '[.[] | select(.options.handle) | .pref] | join(" ")')" \
		"cls_bpf filter priorities"
	[ -z "$(in_appl bpftool -j net show dev l3a0 | jq -r '.[0].tc[]? | select(.kind | startswith("tcx"))')" ]

	sed -i 's/^priority = 30$/priority = 5/' "$LAB_CONF/50-programs.toml"
	reload_and_settle
	assert_eq "[1, 2, 3]" "$(run_order)" "stamped order after 'one' moved to priority 5"
}

@test "XDP: programs share l3a0 through libxdp's dispatcher in priority order" {
	stamper one 1 30 xdp
	stamper two 2 10 xdp
	run l3afd_cmd apply
	echo "$output"
	if [[ $output == *"freplace"* ]]; then
		skip "this kernel cannot load freplace (BPF_PROG_TYPE_EXT) programs, which libxdp's dispatcher runs (tests/image/run.sh checks XDP chains in a kernel that can)"
	fi
	[ "$status" -eq 0 ]
	assert_eq "[2, 1]" "$(run_order)" "stamped order at priorities 30, 10"
}

# attachments: what holds l3a0's ingress programs in place, one entry per
# program: TCX links by link id, cls_bpf filters by (pref, handle).
attachments() {
	if [ "${1:-}" = legacy ]; then
		in_appl tc -j filter show dev l3a0 ingress |
			jq -c '[.[] | select(.options.handle) | "\(.pref)/\(.options.handle)"]'
	else
		in_appl bpftool -j net show dev l3a0 | jq -c '[.[0].tc[] | .link_id]'
	fi
}
# programs_running: the program ids on l3a0's ingress, in hook order.
programs_running() {
	in_appl bpftool -j net show dev l3a0 | jq -c '[.[0].tc[] | .id // .prog_id]'
}

# ping_across_changes [legacy]: 4000 pings at 2 ms across an update of one
# program, a no-op reload and kill -9 + restart. Every packet arrives; the
# attachments stay where they are (the update swaps the program in place).
ping_across_changes() {
	[ "${1:-}" != legacy ] || legacy
	program count "$EXAMPLES/tc_counter.bpf.o" tc_counter tc-ingress 50
	stamper mark 9 60
	l3afd_start
	local before running
	before=$(attachments "${1:-}")
	running=$(programs_running)
	[ "$(jq length <<<"$before")" -ge 2 ]

	in_client ping -q -i 0.002 -c 4000 "$LAB_SERVER_V4" >"$BATS_TEST_TMPDIR/ping" &
	local pinger=$!
	sleep 1
	# An update: 'mark' runs a new object (another id in the same function).
	cp "$STAMP" "$BATS_TEST_TMPDIR/stamp2.bpf.o"
	printf '\n' >>"$BATS_TEST_TMPDIR/stamp2.bpf.o" # other bytes, same program: a new revision
	sed -i "s|object = \"$STAMP\"|object = \"$BATS_TEST_TMPDIR/stamp2.bpf.o\"|" "$LAB_CONF/50-programs.toml"
	reload_and_settle
	assert_eq "$before" "$(attachments "${1:-}")" "attachments after the update (swapped in place)"
	local updated
	updated=$(programs_running)
	# count (priority 50) runs the same program, mark (60) a new one.
	assert_eq "$(jq -c '.[-2]' <<<"$running")" "$(jq -c '.[-2]' <<<"$updated")" "count's program"
	[ "$(jq -c '.[-1]' <<<"$running")" != "$(jq -c '.[-1]' <<<"$updated")" ]
	sleep 1
	reload_and_settle # no change
	assert_eq "$before" "$(attachments "${1:-}")" "attachments after a no-op reload"
	assert_eq "$updated" "$(programs_running)" "programs after a no-op reload"
	sleep 1
	l3afd_stop KILL >/dev/null || true
	sleep 0.5
	l3afd_start
	assert_eq "$before" "$(attachments "${1:-}")" "attachments after kill -9 and restart"
	assert_eq "$updated" "$(programs_running)" "programs after kill -9 and restart"
	wait "$pinger" || true
	cat "$BATS_TEST_TMPDIR/ping"
	grep -q "^4000 packets transmitted, 4000 received, 0% packet loss" "$BATS_TEST_TMPDIR/ping"
}

@test "TCX: ping across an update, a no-op reload and kill -9 + restart: no packet lost, no detach" {
	ping_across_changes
}

@test "legacy cls_bpf: ping across an update, a no-op reload and kill -9 + restart: no packet lost" {
	ping_across_changes legacy
}

@test "map contents survive kill -9, a restart and an update; declared entries stay as declared" {
	program count "$EXAMPLES/tc_counter.bpf.o" tc_counter tc-ingress 50
	stamper mark 9 60
	l3afd_start
	in_client ping -q -c 20 -i 0.05 "$LAB_SERVER_V4" >/dev/null
	local map="$LAB_PIN_ROOT/program/count/maps/counts" before after
	# ICMP (protocol 1): packets summed over CPUs.
	before=$(map_number "$map" 1 0 0 0)
	[ "$before" -ge 20 ]
	l3afd_stop KILL >/dev/null || true
	l3afd_start
	after=$(map_number "$map" 1 0 0 0)
	[ "$after" -ge "$before" ]
	# An update of the program keeps its maps.
	cp "$EXAMPLES/tc_counter.bpf.o" "$BATS_TEST_TMPDIR/counter2.bpf.o"
	printf '\n' >>"$BATS_TEST_TMPDIR/counter2.bpf.o"
	sed -i "s|$EXAMPLES/tc_counter.bpf.o|$BATS_TEST_TMPDIR/counter2.bpf.o|" "$LAB_CONF/50-programs.toml"
	reload_and_settle
	after=$(map_number "$map" 1 0 0 0)
	[ "$after" -ge "$before" ]
	assert_eq 9 "$(BYTES=4 map_number "$LAB_PIN_ROOT/program/mark/maps/stamp" 0 0 0 0)" \
		"declared stamp id"
}

@test "a foreign tc filter and a foreign XDP program survive apply and reset" {
	in_appl tc qdisc add dev l3a0 clsact
	in_appl tc filter add dev l3a0 ingress prio 200 protocol all u32 match u32 0 0
	# A foreign XDP program attached the plain way (this kernel cannot run
	# libxdp's dispatcher, so xdp-loader fails here).
	bpftool prog loadall "$STAMP" "$LAB_BPFFS/foreign-xdp"
	in_appl bpftool net attach xdpgeneric pinned "$LAB_BPFFS/foreign-xdp/xdp_stamp" dev l3a0
	local foreign
	foreign=$(in_appl tc filter show dev l3a0 ingress; in_appl ip -j link show l3a0 | jq -c '.[0].xdp // null')
	[[ $foreign == *'"prog"'* ]] # the foreign XDP program is there to survive
	legacy
	stamper one 1 10
	program count "$EXAMPLES/tc_counter.bpf.o" tc_counter tc-egress 50
	run l3afd_cmd apply
	[ "$status" -eq 0 ]
	in_appl tc filter show dev l3a0 ingress | grep -q "pref 200 u32"
	in_appl tc filter show dev l3a0 ingress | grep -q "l3af:program/one"
	run l3afd_cmd reset
	[ "$status" -eq 0 ]
	assert_eq "$foreign" "$(in_appl tc filter show dev l3a0 ingress; in_appl ip -j link show l3a0 | jq -c '.[0].xdp // null')" \
		"foreign filter and XDP program after reset"
	in_appl ip link set dev l3a0 xdpgeneric off
	rm -rf "$LAB_BPFFS/foreign-xdp"
}

@test "legacy: reset also removes a filter of ours whose pin was lost, and no foreign bpf filter" {
	legacy
	stamper one 1 10
	run l3afd_cmd apply
	[ "$status" -eq 0 ]
	in_appl tc filter add dev l3a0 ingress prio 300 bpf da obj "$STAMP" sec tc
	# A crash between attaching the filter and pinning its program.
	rm "$LAB_PIN_ROOT/program/one/links/l3a0@tc-ingress"
	in_appl tc filter show dev l3a0 ingress | grep -q "l3af:program/one"
	run l3afd_cmd reset
	[ "$status" -eq 0 ]
	local left
	left=$(in_appl tc filter show dev l3a0 ingress)
	[[ $left != *"l3af:"* ]] || { echo "$left"; false; }
	[[ $left == *"pref 300 bpf"*"order_stamp"* ]] || { echo "$left"; false; }
}

@test "an interface deleted and recreated gets its programs back; a missing one attaches when it appears" {
	in_appl ip link add l3x0 type veth peer name l3x1
	in_appl ip link set l3x0 up
	program count "$EXAMPLES/tc_counter.bpf.o" tc_counter tc-ingress 50 l3x0
	program late "$EXAMPLES/tc_counter.bpf.o" tc_counter tc-egress 50 l3y0
	lab_spawn l3afd "$LAB_NS_APPL" "$L3AFD" run -c "$LAB_CONF"
	attached_on() { in_appl bpftool -j net show dev "$1" 2>/dev/null | jq -e '[.[0].tc[]? | select(.name == "tc_counter")] | length == 1' >/dev/null; }
	lab_wait_for 10 "tc_counter on l3x0" attached_on l3x0
	in_appl ip link del l3x0
	in_appl ip link add l3x0 type veth peer name l3x1
	lab_wait_for 5 "tc_counter back on the new l3x0" attached_on l3x0
	in_appl ip link add l3y0 type veth peer name l3y1
	lab_wait_for 5 "tc_counter on l3y0 once it exists" attached_on l3y0
	in_appl ip link del l3y0
}

@test "a program the verifier rejects: the previous version keeps running and the error shows the verifier's words" {
	program count "$EXAMPLES/tc_counter.bpf.o" tc_counter tc-ingress 50
	l3afd_start
	local id
	id=$(in_appl bpftool -j net show dev l3a0 | jq -c '[.[0].tc[] | {link_id, prog_id}]')
	sed -i "s|$EXAMPLES/tc_counter.bpf.o|$PROGRAMS/verifier_reject.bpf.o|; s|tc_counter\"|tc_reject\"|" \
		"$LAB_CONF/50-programs.toml"
	l3afd_cmd reload >/dev/null || true
	has_error() { l3afd_status_json | jq -e '.programs[] | select(.name == "count") | .errors | length > 0' >/dev/null; }
	lab_wait_for 10 "the program's error in status" has_error
	l3afd_jq '.programs[] | select(.name == "count") | .errors[0]' | grep -q "invalid access to packet"
	assert_eq "$id" "$(in_appl bpftool -j net show dev l3a0 | jq -c '[.[0].tc[] | {link_id, prog_id}]')" \
		"what runs on l3a0 after the rejected update"
	in_client ping -q -c 3 -i 0.1 "$LAB_SERVER_V4" >/dev/null
}

@test "bad input: each error names file:line, and the kernel is byte-for-byte what it was" {
	stamper mark 9 60
	l3afd_start
	local good="$LAB_CONF/50-programs.toml" before
	cp "$good" "$BATS_TEST_TMPDIR/good.toml"
	before=$(kernel_dump)
	local case expect
	for case in missing-object wrong-function hook-mismatch value-too-big unknown-map; do
		cp "$BATS_TEST_TMPDIR/good.toml" "$good"
		case $case in
		missing-object) sed -i "s|$STAMP|/nonexistent/stamp.bpf.o|" "$good"; expect="No such file" ;;
		wrong-function) sed -i 's|"tc_stamp"|"tc_stomp"|' "$good"; expect="no function 'tc_stomp'" ;;
		hook-mismatch) sed -i 's|"tc_stamp"|"xdp_stamp"|' "$good"; expect="needs a program of type sched_cls" ;;
		value-too-big) sed -i 's|value = 9 }|value = 4294967296 }|' "$good"; expect="does not fit" ;;
		unknown-map) sed -i 's|program.maps.stamp|program.maps.stomp|' "$good"; expect="no map 'stomp'" ;;
		esac
		run l3afd_cmd check
		echo "$case: $output"
		[ "$status" -eq 1 ]
		[[ $output == "$good:"[0-9]*:[0-9]*": error: "*"$expect"* ]]
		l3afd_cmd reload >/dev/null || true
		rejected() { l3afd_jq .daemon.last_error | grep -qF "$expect"; }
		lab_wait_for 10 "the daemon to reject $case" rejected
		assert_eq "$before" "$(kernel_dump)" "kernel state after the rejected $case"
	done
	cp "$BATS_TEST_TMPDIR/good.toml" "$good"
}
