#!/usr/bin/env bats
# More distinct flows than the table holds: every packet that crossed l3a0 is
# either in an exported record or in the exporter's overflow counter
# (DESIGN.md section 10, conservation). Both count IP-level octets (IPv4
# total length), so octets add up the same way packets do.

load lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

FLOOD_PORTS=20000-20499 # 500 flows
PAYLOAD=32              # IP length 60

flood_accounted() {
	local exported overflow
	exported=$(totals --jsonl "$LAB_DIR/py.jsonl" --dport-range "$FLOOD_PORTS" --proto 17) || return 1
	overflow=$(l3afd_jq '.flow_exporters[0].overflow.packets') || return 1
	[ $((${exported%% *} + overflow)) -ge "$1" ]
}

@test "flood of 500 flows into max_flows = 64: exported + overflow == sent, packets and octets" {
	l3afd_config_daemon
	l3afd_config_collector py "$LAB_COLLECTOR_V4" 4739 udp
	L3AF_EXPORTER_MAX_FLOWS=64 l3afd_config_exporter edge '"py"'
	ipfix_collector_start py "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4739 udp
	# A sink on every port: a closed port would answer with ICMP errors,
	# flows of their own.
	lab_spawn usink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-sink \
		--bind "$LAB_SERVER_V4" --ports "$FLOOD_PORTS"
	# Start from a quiet link: the IPv6 chatter of link-up would take slots too.
	lab_wait_quiet "$LAB_NS_APPL" l3a0 1.5 20
	l3afd_start
	capture_start l3a0 "$LAB_NS_APPL" l3a0 'ip or ip6'

	sent=$(traffic_client udp-flood --dst "$LAB_SERVER_V4" --ports "$FLOOD_PORTS" --sport 40040 \
		--size "$PAYLOAD" --pps 2000)
	assert_eq "500 30000" "$sent" "flood sender"
	lab_wait_for 15 "every flood packet to be accounted for" flood_accounted 500
	lab_wait_for 10 "the flood's flows to expire" l3afd_flows_expired 1
	capture_stop l3a0

	local pcap status exported overflow
	pcap=$(capture_file l3a0)
	assert_eq "$sent" "$(totals --pcap "$pcap" --dport-range "$FLOOD_PORTS" --proto 17)" \
		"flood packets that crossed l3a0 (capture)"
	assert_eq "$sent" "$(totals --pcap "$pcap")" "every IP packet on l3a0 during the run is the flood's"

	status=$(l3afd_status_json)
	exported=$(totals --jsonl "$LAB_DIR/py.jsonl" --dport-range "$FLOOD_PORTS" --proto 17)
	overflow=$(jq -r '.flow_exporters[0].overflow | "\(.packets) \(.octets)"' <<<"$status")
	echo "exported: $exported; overflow: $overflow"
	assert_ge 1 "${overflow%% *}" "overflow packets"
	assert_ge 1 "${exported%% *}" "exported flood packets"
	assert_eq "500" "$((${exported%% *} + ${overflow%% *}))" "exported + overflow packets"
	assert_eq "$((${exported%% *} * 60))" "${exported#* }" "exported octets (IP-level, 60 each)"
	assert_eq "$((${overflow%% *} * 60))" "${overflow#* }" "overflow octets (IP-level, 60 each)"
	assert_eq "30000" "$((${exported#* } + ${overflow#* }))" "exported + overflow octets"
	local flows
	flows=$(record_count --jsonl "$LAB_DIR/py.jsonl" --dport-range "$FLOOD_PORTS" --proto 17)
	assert_eq "$flows" "${exported%% *}" "one packet per exported flood flow"
	[ "$flows" -le 64 ] || {
		echo "exported $flows flood flows, more than max_flows = 64 at once"
		false
	}
}
