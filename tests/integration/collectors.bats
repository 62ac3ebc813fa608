#!/usr/bin/env bats
# More than one collector, and a TCP collector that goes away and comes back.

load lib/common

setup_file() { suite_setup_file --collector2; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	l3afd_config_daemon
}
teardown() { suite_teardown; }

@test "two collectors both receive every flow, with the same totals" {
	l3afd_config_collector a "$LAB_COLLECTOR_V4" 4739 udp
	l3afd_config_collector b "$LAB_COLLECTOR2_V4" 4739 udp
	l3afd_config_exporter edge '"a", "b"'
	nfcapd_start a "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4739
	nfcapd_start b "$LAB_NS_COLLECTOR2" "$LAB_COLLECTOR2_V4" 4739
	capture_start ipfix-a "$LAB_NS_COLLECTOR" eth0 udp port 4739
	capture_start ipfix-b "$LAB_NS_COLLECTOR2" eth0 udp port 4739
	lab_spawn usink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-sink \
		--bind :: --ports 5001-5002
	l3afd_start

	in_client ping -q -c 4 -i 0.2 "$LAB_SERVER_V4" >/dev/null
	in_client ping -q -6 -c 3 -i 0.2 "$LAB_SERVER_V6" >/dev/null
	udp4=$(traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5001 --sport 40021 --sizes 64,512,1300)
	udp6=$(traffic_client udp-send --dst "$LAB_SERVER_V6" --port 5002 --sport 40022 --sizes 64,512)
	lab_wait_for 15 "every flow to expire" l3afd_flows_expired 6
	local status
	status=$(l3afd_status_json)
	assert_eq "0" "$(l3afd_stop TERM)" "exit status after SIGTERM"
	capture_stop ipfix-a
	capture_stop ipfix-b
	nfcapd_stop a
	nfcapd_stop b
	nfdump_json a >"$BATS_TEST_TMPDIR/a.json"
	nfdump_json b >"$BATS_TEST_TMPDIR/b.json"

	local c nf
	for c in a b; do
		nf=(--nfdump "$BATS_TEST_TMPDIR/$c.json")
		assert_eq "4 336" "$(totals "${nf[@]}" --src "$LAB_CLIENT_V4" --proto 1 --icmp-type 8)" "$c: ping v4 requests"
		assert_eq "4 336" "$(totals "${nf[@]}" --src "$LAB_SERVER_V4" --proto 1 --icmp-type 0)" "$c: ping v4 replies"
		assert_eq "3 312" "$(totals "${nf[@]}" --src "$LAB_CLIENT_V6" --proto 58 --icmp-type 128)" "$c: ping v6 requests"
		assert_eq "3 312" "$(totals "${nf[@]}" --src "$LAB_SERVER_V6" --proto 58 --icmp-type 129)" "$c: ping v6 replies"
		assert_eq "$udp4" "$(totals "${nf[@]}" --sport 40021 --dport 5001 --proto 17)" "$c: UDP v4"
		assert_eq "$udp6" "$(totals "${nf[@]}" --sport 40022 --dport 5002 --proto 17)" "$c: UDP v6"
		assert_eq "Sequence failures: 0" "$(nfdump -R "$LAB_DIR/nfcapd-$c" -I | grep '^Sequence failures')" "$c: nfdump -I"
		assert_eq "" "$(ipfix_pcap_problems "$(capture_file "ipfix-$c")")" "$c: tshark's findings"
	done
	# Not only the same totals: the very same records.
	assert_eq "$(flows list --nfdump "$BATS_TEST_TMPDIR/a.json" | sort)" \
		"$(flows list --nfdump "$BATS_TEST_TMPDIR/b.json" | sort)" "records at a vs records at b"
	assert_eq "$(jq -r '.collectors[] | select(.name == "a") | .records_sent' <<<"$status")" \
		"$(jq -r '.collectors[] | select(.name == "b") | .records_sent' <<<"$status")" "records_sent a vs b"
	assert_ge 6 "$(jq -r '.collectors[] | select(.name == "a") | .records_sent' <<<"$status")" "records_sent"
	assert_eq "0 0" "$(jq -r '[.collectors[].send_errors] | map(tostring) | join(" ")' <<<"$status")" \
		"send_errors a, b"
}

collector_connected() {
	l3afd_status_json | jq -e --arg want "$1" '.collectors[0].connected == ($want == "true")'
}

exported_at_least() {
	l3afd_status_json | jq -e --argjson n "$1" '.flow_exporters[0].records_exported >= $n'
}

@test "TCP collector: export resumes after the collector restarts; losses are counted" {
	l3afd_config_collector soc "$LAB_COLLECTOR_V4" 4740 tcp 'reconnect_interval = "1s"'
	l3afd_config_exporter edge '"soc"'
	lab_spawn usink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-sink \
		--bind :: --ports 5011
	ipfix_collector_start tcp1 "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4740 tcp
	l3afd_start
	lab_wait_for 10 "the TCP connection" collector_connected true

	# A: while the collector is up.
	in_client ping -q -c 3 -i 0.2 "$LAB_SERVER_V4" >/dev/null
	lab_wait_for 10 "A's records" jsonl_packets_reach tcp1 3 --src "$LAB_SERVER_V4" --proto 1
	assert_eq "3 252" "$(totals --jsonl "$LAB_DIR/tcp1.jsonl" --src "$LAB_CLIENT_V4" --proto 1)" "A: requests"

	# B: while it is down. Its flows reach the exporter and cannot be sent now.
	lab_stop tcp1 TERM 5 >/dev/null
	local exported
	exported=$(l3afd_jq '.flow_exporters[0].records_exported')
	b=$(traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5011 --sport 40031 --sizes 100,200,300)
	lab_wait_for 10 "B's flow to be exported by the flow exporter" exported_at_least $((exported + 1))
	lab_wait_for 10 "the daemon to notice the collector is gone" collector_connected false

	# The collector comes back: the daemon reconnects by itself.
	ipfix_collector_start tcp2 "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4740 tcp
	lab_wait_for 10 "the reconnection" collector_connected true

	# C: after the restart, export resumes.
	in_client ping -q -6 -c 3 -i 0.2 "$LAB_SERVER_V6" >/dev/null
	lab_wait_for 10 "C's records" jsonl_packets_reach tcp2 3 --src "$LAB_SERVER_V6" --proto 58 --icmp-type 129
	local j2="$LAB_DIR/tcp2.jsonl"
	assert_eq "3 312" "$(totals --jsonl "$j2" --src "$LAB_CLIENT_V6" --proto 58 --icmp-type 128)" "C: requests"
	assert_eq "3 312" "$(totals --jsonl "$j2" --src "$LAB_SERVER_V6" --proto 58 --icmp-type 129)" "C: replies"

	# B either waited in the daemon's queue and arrived whole, or it was
	# dropped and counted.
	local status b_got dropped
	status=$(l3afd_status_json)
	b_got=$(totals --jsonl "$j2" --sport 40031 --dport 5011 --proto 17)
	dropped=$(jq -r '.collectors[0].records_dropped' <<<"$status")
	assert_match '^[0-9]+$' "$dropped" "status: records_dropped"
	assert_match '^[0-9]+$' "$(jq -r '.collectors[0].send_errors' <<<"$status")" "status: send_errors"
	if [ "$b_got" = "0 0" ]; then
		assert_ge 1 "$dropped" "records_dropped when B never arrived"
		echo "# B (sent while the collector was down) was dropped: records_dropped=$dropped" >&3
	else
		assert_eq "$b" "$b_got" "B's totals, delivered after the reconnection"
		echo "# B (sent while the collector was down) was queued and delivered" >&3
	fi

	# Every TCP connection starts with templates: nothing undecodable, and the
	# sequence numbers of each connection add up.
	assert_eq "0 0" "$(flows seq --jsonl "$LAB_DIR/tcp1.jsonl" | cut -d' ' -f2,3)" "tcp1: seq errors, decode errors"
	assert_eq "0 0" "$(flows seq --jsonl "$j2" | cut -d' ' -f2,3)" "tcp2: seq errors, decode errors"
}
