# shellcheck shell=bash
# What every .bats file of the suite shares: the lab's lifecycle in Bats'
# hooks and a few assertions that say what they expected when they fail.
#
#   load lib/common
#   setup_file()    { suite_setup_file; }      # or: suite_setup_file --collector2
#   teardown_file() { suite_teardown_file; }
#   setup()         { suite_setup; }
#   teardown()      { suite_teardown; }

# shellcheck source=lab.bash
source "$(dirname "${BASH_SOURCE[0]}")/lab.bash"

# Bats 1.8 cannot skip from setup_file, so the reason is kept in LAB_SKIP and
# every test skips itself in suite_setup.
suite_setup_file() {
	LAB_SKIP=$(lab_missing "${SUITE_NEEDS:-}")
	export LAB_SKIP
	[ -z "$LAB_SKIP" ] || return 0
	if ! lab_setup "$@"; then
		lab_teardown
		return 1
	fi
}

suite_teardown_file() {
	[ -z "${LAB_SKIP:-}" ] || return 0
	lab_teardown
}

suite_setup() {
	[ -z "${LAB_SKIP:-}" ] || skip "$LAB_SKIP"
	return 0
}

# After each test: show the daemon's log when the test failed, stop whatever
# the test started and remove everything l3afd pinned, so the next test
# starts with an empty flow table.
suite_teardown() {
	[ -z "${LAB_SKIP:-}" ] || return 0
	if [ "${BATS_TEST_COMPLETED:-}" != 1 ] && [ -e "$LAB_DIR/l3afd.log" ]; then
		l3afd_logs
	fi
	lab_stop_all
	l3afd_stop_and_reset
	rm -f "$LAB_DIR"/run/*.rc
	local left
	left=$(lab_pinned_objects)
	if [ -n "$left" ]; then
		echo "l3afd reset left pinned objects under $LAB_PIN_ROOT:"
		echo "$left"
		tail -n 5 "$LAB_DIR/reset.log"
		return 1
	fi
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
	if [ "$1" != "$2" ]; then
		echo "$3: expected '$1', got '$2'"
		return 1
	fi
}

# assert_match REGEX ACTUAL WHAT
assert_match() {
	if ! [[ $2 =~ $1 ]]; then
		echo "$3: expected a match for /$1/, got '$2'"
		return 1
	fi
}

# assert_ge MIN ACTUAL WHAT
assert_ge() {
	if ! [ "$2" -ge "$1" ] 2>/dev/null; then
		echo "$3: expected at least $1, got '$2'"
		return 1
	fi
}

# totals SOURCE-ARGS...: "PACKETS OCTETS" of the matching records.
totals() {
	local t
	t=$(flows sum "$@") || return 1
	echo "${t% *}"
}

# record_count SOURCE-ARGS...: how many records matched.
record_count() {
	local t
	t=$(flows sum "$@") || return 1
	echo "${t##* }"
}

# The appliance's MAC on l3a0 and the client's on eth0, for hand-written frames.
appl_mac() { ip -n "$LAB_NS_APPL" -j link show l3a0 | jq -r '.[0].address'; }
client_mac() { ip -n "$LAB_NS_CLIENT" -j link show eth0 | jq -r '.[0].address'; }

# ipfix_pcap_problems PCAP [PORT]: what tshark finds wrong in a capture of
# IPFIX over UDP: every frame to PORT it does not decode as IPFIX, every
# malformed frame, every expert message of warning severity or above (these
# include its own sequence number check). Prints nothing when all is clean.
ipfix_pcap_problems() {
	local pcap=$1 port=${2:-4739}
	local dissect=(-n -r "$pcap" -d "udp.port==$port,cflow")
	tshark "${dissect[@]}" -Y "udp.dstport==$port and not cflow" 2>/dev/null |
		sed 's/^/not IPFIX: /'
	tshark "${dissect[@]}" -Y _ws.malformed 2>/dev/null | sed 's/^/malformed: /'
	tshark "${dissect[@]}" -q -z expert,warn 2>/dev/null | sed '/^$/d'
}

# ipfix_pcap_messages PCAP [PORT]: how many IPFIX messages the capture holds.
ipfix_pcap_messages() {
	tshark -n -r "$1" -d "udp.port==${2:-4739},cflow" -Y cflow 2>/dev/null | wc -l
}

# jsonl_has_records NAME N: the python collector NAME stored at least N records.
jsonl_has_records() {
	[ "$(grep -c '"type": "record"' "$LAB_DIR/$1.jsonl" 2>/dev/null)" -ge "$2" ]
}

# traffic_client ARGS...: lib/traffic.py inside the client namespace.
traffic_client() { in_client "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" "$@"; }

# l3afd_flows_expired MIN: the exporter's table is empty and it has exported
# at least MIN records.
l3afd_flows_expired() {
	l3afd_status_json | jq -e --argjson min "$1" \
		'all(.flow_exporters[]; .flows_active == 0) and
		 ([.flow_exporters[].records_exported] | add) >= $min'
}

# jsonl_packets_reach NAME N FILTERS...: the python collector NAME holds flow
# records matching FILTERS that add up to at least N packets.
jsonl_packets_reach() {
	local name=$1 n=$2 t
	shift 2
	t=$(flows sum --jsonl "$LAB_DIR/$name.jsonl" "$@" 2>/dev/null) || return 1
	[ "${t%% *}" -ge "$n" ]
}

# l3afd_link_ids: "interface@hook=link_id ..." of every attachment, sorted.
l3afd_link_ids() {
	l3afd_status_json | jq -r '[.flow_exporters[].attachments[] |
		"\(.interface)@\(.hook)=\(.link_id)"] | sort | join(" ")'
}

# tcx_link_ids DEV: "tcx/ingress=ID tcx/egress=ID" as the kernel reports them
# for DEV in the appliance (bpftool), whoever is running.
tcx_link_ids() {
	in_appl bpftool -j net show dev "$1" | jq -r '[.[0].tc[]? | select(.kind | startswith("tcx")) |
		"\(.kind)=\(.link_id)"] | sort | join(" ")'
}

# l3afd_flows_active MIN: the exporters' tables hold at least MIN flows.
l3afd_flows_active() {
	l3afd_status_json | jq -e --argjson min "$1" '([.flow_exporters[].flows_active] | add) >= $min'
}
