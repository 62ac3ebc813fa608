#!/usr/bin/env bats
# The lab itself, before any l3afd: the namespaces route, the ground truth
# (captures) counts what the senders sent, and the collector-side checks
# (nfcapd/nfdump, tshark, the python collector) read known IPFIX correctly and
# do notice a sequence gap or a malformed message. If this file fails, the
# other files' failures say nothing about l3afd.

load lib/common

setup_file() {
	SUITE_NEEDS=--no-l3afd suite_setup_file
	export RECORDS="$BATS_FILE_TMPDIR/records.json"
	cat >"$RECORDS" <<JSON
[
 {"src": "10.10.1.2", "dst": "10.10.2.2", "proto": 1, "icmp_type": 8, "packets": 5, "octets": 420,
  "in_if": 2, "direction": 0, "reason": 1, "min_ttl": 64, "max_ttl": 64},
 {"src": "10.10.2.2", "dst": "10.10.1.2", "proto": 1, "icmp_type": 0, "packets": 5, "octets": 420,
  "out_if": 2, "direction": 1, "reason": 1, "min_ttl": 63, "max_ttl": 63},
 {"src": "10.10.1.2", "dst": "10.10.2.2", "proto": 17, "sport": 40000, "dport": 5001,
  "packets": 3, "octets": 3084, "in_if": 2, "reason": 2, "vlan": 100},
 {"src": "fd00:1::2", "dst": "fd00:2::2", "proto": 6, "sport": 40001, "dport": 5001,
  "packets": 4, "octets": 4192, "in_if": 2, "reason": 3, "tcp_flags": 17},
 {"src": "fd00:2::2", "dst": "fd00:1::2", "proto": 58, "icmp_type": 129, "packets": 2,
  "octets": 208, "out_if": 2, "direction": 1, "reason": 4}
]
JSON
}
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

fake_export() {
	in_appl "$LAB_PYTHON" "$LAB_LIB_DIR/fake_exporter.py" --dst "$LAB_COLLECTOR_V4" \
		--records "$RECORDS" --per-message 2 "$@"
}

@test "lab: client and server reach each other through the appliance, v4 and v6" {
	run in_client ping -c1 -W2 "$LAB_SERVER_V4"
	[ "$status" -eq 0 ]
	# One hop: the reply left the server with TTL 64 and crossed the appliance.
	[[ $output == *"ttl=63"* ]]
	run in_client ping -6 -c1 -W2 "$LAB_SERVER_V6"
	[ "$status" -eq 0 ]
	[[ $output == *"ttl=63"* ]]
	run in_appl ethtool -k l3a0
	[[ $output == *"tcp-segmentation-offload: off"* ]]
	[[ $output == *"generic-segmentation-offload: off"* ]]
}

@test "ground truth: a capture on l3a0 counts exactly what the senders sent" {
	lab_spawn sink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-sink \
		--bind :: --ports 5001-5002
	capture_start l3a0 "$LAB_NS_APPL" l3a0
	sent4=$(in_client "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-send --dst "$LAB_SERVER_V4" \
		--port 5001 --sport 41001 --sizes 10,100,1000,1400 --repeat 2)
	sent6=$(in_client "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-send --dst "$LAB_SERVER_V6" \
		--port 5002 --sport 41002 --sizes 10,1400)
	vin=$(in_client "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" vlan-send --iface eth0 \
		--dst-mac "$(appl_mac)" --src "$LAB_CLIENT_VLAN_V4" --dst "$LAB_APPL_VLAN_V4" \
		--vlan "$LAB_VLAN_ID" --sport 41004 --port 5004 --sizes 50,60,70 2>/dev/null)
	vout=$(in_appl "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" vlan-send --iface l3a0 \
		--dst-mac "$(client_mac)" --src "$LAB_APPL_VLAN_V6" --dst "$LAB_CLIENT_VLAN_V6" \
		--vlan "$LAB_VLAN_ID" --sport 5004 --port 41004 --sizes 80,90 2>/dev/null)
	capture_stop l3a0
	pcap=$(capture_file l3a0)

	assert_eq "8 5244" "$sent4" "udp v4 sender"
	assert_eq "$sent4" "$(totals --pcap "$pcap" --src "$LAB_CLIENT_V4" --sport 41001 --proto 17)" \
		"udp v4 in the capture"
	assert_eq "2 1506" "$sent6" "udp v6 sender"
	assert_eq "$sent6" "$(totals --pcap "$pcap" --src "$LAB_CLIENT_V6" --sport 41002 --proto 17)" \
		"udp v6 in the capture"
	assert_eq "3 264" "$vin" "tagged frames client -> appliance"
	assert_eq "$vin" "$(totals --pcap "$pcap" --vlan "$LAB_VLAN_ID" --dport 5004)" "tagged, in the capture"
	assert_eq "2 266" "$vout" "tagged frames appliance -> client"
	assert_eq "$vout" "$(totals --pcap "$pcap" --vlan "$LAB_VLAN_ID" --dport 41004)" "tagged, in the capture"
	assert_eq "10" "$(lab_stop sink TERM 5 >/dev/null; tail -n1 "$LAB_DIR/sink.log")" "datagrams the sink received"
}

@test "collectors: nfdump, tshark and the python collector read known IPFIX exactly" {
	nfcapd_start main "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4739
	ipfix_collector_start pyudp "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4740 udp
	ipfix_collector_start pytcp "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4741 tcp
	capture_start ipfix "$LAB_NS_COLLECTOR" eth0 udp port 4739
	fake_export --options
	fake_export --port 4740 --options
	fake_export --port 4741 --transport tcp --options
	capture_stop ipfix
	nfcapd_stop main
	lab_wait_for 5 "python collectors to store every record" jsonl_has_records pytcp 7
	lab_stop pyudp >/dev/null
	lab_stop pytcp >/dev/null
	nfdump_json main >"$BATS_TEST_TMPDIR/nf.json"
	nf=(--nfdump "$BATS_TEST_TMPDIR/nf.json")

	assert_eq "19 8324 5" "$(flows sum "${nf[@]}")" "nfdump: all flows"
	assert_eq "5 420" "$(totals "${nf[@]}" --src 10.10.1.2 --proto 1 --icmp-type 8)" "nfdump: icmp echo"
	assert_eq "2 208" "$(totals "${nf[@]}" --src fd00:2::2 --proto 58 --icmp-type 129)" "nfdump: icmpv6 reply"
	assert_eq "100" "$(flows values vlan "${nf[@]}" --dport 5001 --proto 17)" "nfdump: vlanId"
	assert_eq "2" "$(flows values in_if "${nf[@]}" --direction 0)" "nfdump: ingressInterface"
	assert_eq "Sequence failures: 0" "$(nfdump -R "$LAB_DIR/nfcapd-main" -I | grep '^Sequence failures')" \
		"nfdump -I"

	pcap=$(capture_file ipfix)
	assert_eq "" "$(ipfix_pcap_problems "$pcap")" "tshark problems"
	assert_eq "3" "$(ipfix_pcap_messages "$pcap")" "IPFIX messages decoded by tshark"
	assert_eq "19 8324 5" "$(flows sum --tshark "$pcap")" "tshark: all flows"
	assert_eq "1 2 3 4" "$(flows values reason --tshark "$pcap")" "tshark: flowEndReason"
	assert_eq "63 64" "$(flows values min_ttl --tshark "$pcap")" "tshark: minimumTTL"

	for c in pyudp pytcp; do
		assert_eq "19 8324 5" "$(flows sum --jsonl "$LAB_DIR/$c.jsonl")" "$c: all flows"
		assert_eq "1 2 3 4" "$(flows values reason --jsonl "$LAB_DIR/$c.jsonl")" "$c: reasons"
		assert_eq "3 0 0 1" "$(flows seq --jsonl "$LAB_DIR/$c.jsonl")" "$c: messages, seq errors, errors, sessions"
	done
	assert_eq "2" "$(grep -c '"tid": 25[89]' "$LAB_DIR/pyudp.jsonl")" "options records"
}

@test "negative control: a sequence gap is reported by nfdump, tshark and the python collector" {
	nfcapd_start main "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4739
	ipfix_collector_start pyudp "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4740 udp
	capture_start ipfix "$LAB_NS_COLLECTOR" eth0 udp port 4739
	fake_export --skip-seq 3
	fake_export --port 4740 --skip-seq 3
	capture_stop ipfix
	nfcapd_stop main
	lab_wait_for 5 "python collector" jsonl_has_records pyudp 5
	lab_stop pyudp >/dev/null

	run nfdump -R "$LAB_DIR/nfcapd-main" -I
	assert_match "Sequence failures: [1-9]" "$output" "nfdump -I"
	run ipfix_pcap_problems "$(capture_file ipfix)"
	assert_match "Unexpected flow sequence" "$output" "tshark expert info"
	assert_eq "3 1 0 1" "$(flows seq --jsonl "$LAB_DIR/pyudp.jsonl")" "python collector"
}

@test "negative control: tshark reports a truncated IPFIX message as malformed" {
	capture_start ipfix "$LAB_NS_COLLECTOR" eth0 udp port 4739
	in_appl "$LAB_PYTHON" - "$LAB_COLLECTOR_V4" <<'PY'
import socket, struct, sys
# A message header claiming 10 bytes more than the datagram carries.
msg = struct.pack("!HHIII", 10, 40, 0, 0, 7) + struct.pack("!HH", 256, 14) + b"\0" * 10
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(msg, (sys.argv[1], 4739))
PY
	capture_stop ipfix
	run ipfix_pcap_problems "$(capture_file ipfix)"
	[ -n "$output" ]
}
