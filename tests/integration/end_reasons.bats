#!/usr/bin/env bats
# Why a flow record was exported (flowEndReason, RFC 5102 5.11.3): 1 idle
# timeout, 2 active timeout, 3 end of flow (TCP FIN/RST), 4 forced end (the
# daemon stopping). Totals stay exact however a flow is cut into records, and
# a daemon restart (clean or kill -9) under traffic neither loses nor
# double-counts a packet. Read with the python collector (python3-ipfix).

load lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	l3afd_config_daemon
	l3afd_config_collector py "$LAB_COLLECTOR_V4" 4739 udp
	ipfix_collector_start py "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4739 udp
	J="$LAB_DIR/py.jsonl"
}
teardown() { suite_teardown; }

# ping_flows_total N: both echo flows (client->server request, reply) hold
# exactly N pings of 84 IP bytes each.
ping_flows_total() {
	local want="$1 $(($1 * 84))"
	assert_eq "$want" "$(totals --jsonl "$J" --src "$LAB_CLIENT_V4" --dst "$LAB_SERVER_V4" --proto 1 \
		--icmp-type 8)" "echo request flow"
	assert_eq "$want" "$(totals --jsonl "$J" --src "$LAB_SERVER_V4" --dst "$LAB_CLIENT_V4" --proto 1 \
		--icmp-type 0)" "echo reply flow"
}

@test "idle timeout: a finished ping flow is exported with reason 1" {
	l3afd_config_exporter edge '"py"'
	l3afd_start
	in_client ping -q -c 3 -i 0.2 "$LAB_SERVER_V4" >/dev/null
	lab_wait_for 10 "the reply flow to be exported" \
		jsonl_packets_reach py 3 --src "$LAB_SERVER_V4" --proto 1
	ping_flows_total 3
	assert_eq "1" "$(flows values reason --jsonl "$J" --src "$LAB_CLIENT_V4" --proto 1)" "request flow's reason"
	assert_eq "1" "$(flows values reason --jsonl "$J" --src "$LAB_SERVER_V4" --proto 1)" "reply flow's reason"
}

@test "active timeout: a long ping is cut every 2s (reason 2), totals exact across the records" {
	L3AF_EXPORTER_ACTIVE=2s l3afd_config_exporter edge '"py"'
	l3afd_start
	in_client ping -q -c 30 -i 0.2 "$LAB_SERVER_V4" >/dev/null # 5.8 s
	lab_wait_for 10 "the whole flow to be exported" \
		jsonl_packets_reach py 30 --src "$LAB_SERVER_V4" --proto 1
	ping_flows_total 30
	local src reasons
	for src in "$LAB_CLIENT_V4" "$LAB_SERVER_V4"; do
		assert_ge 2 "$(record_count --jsonl "$J" --src "$src" --proto 1 --reason 2)" \
			"records with reason 2 from $src"
		# The last piece ends by whichever timer fires first: active or idle.
		reasons=$(flows list --jsonl "$J" --src "$src" --proto 1 | sed -n 's/.*reason=\([0-9]*\).*/\1/p' |
			tr '\n' ' ')
		assert_match "^(2 )+(1 )?$" "$reasons" "reasons in export order from $src"
	done
}

@test "TCP FIN: both directions of a connection end with reason 3, totals exact" {
	l3afd_config_exporter edge '"py"'
	lab_spawn tsink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" tcp-sink \
		--bind :: --port 5201
	l3afd_start
	capture_start l3a0 "$LAB_NS_APPL" l3a0 tcp port 5201
	traffic_client tcp-send --dst "$LAB_SERVER_V4" --port 5201 --sport 40010 --bytes 100000
	capture_stop l3a0
	local pcap c2s s2c
	pcap=$(capture_file l3a0)
	c2s=(--src "$LAB_CLIENT_V4" --sport 40010 --proto 6)
	s2c=(--dst "$LAB_CLIENT_V4" --dport 40010 --proto 6)
	want_c2s=$(totals --pcap "$pcap" "${c2s[@]}")
	want_s2c=$(totals --pcap "$pcap" "${s2c[@]}")
	lab_wait_for 10 "the connection's flows to be exported" \
		jsonl_packets_reach py "${want_s2c%% *}" "${s2c[@]}"
	lab_wait_for 10 "the connection's flows to be exported" \
		jsonl_packets_reach py "${want_c2s%% *}" "${c2s[@]}"
	assert_eq "$want_c2s" "$(totals --jsonl "$J" "${c2s[@]}")" "client->server totals"
	assert_eq "$want_s2c" "$(totals --jsonl "$J" "${s2c[@]}")" "server->client totals"
	assert_ge 1 "$(record_count --jsonl "$J" "${c2s[@]}" --reason 3)" "client->server records with reason 3"
	assert_ge 1 "$(record_count --jsonl "$J" "${s2c[@]}" --reason 3)" "server->client records with reason 3"
	assert_eq "0 0" "$(record_count --jsonl "$J" --proto 6 --reason 2) $(record_count --jsonl "$J" --proto 6 --reason 4)" \
		"TCP records with reason 2 or 4"
}

@test "SIGTERM: remaining flows are exported with reason 4, exit 0, programs stay attached" {
	L3AF_EXPORTER_IDLE=60s L3AF_EXPORTER_ACTIVE=120s l3afd_config_exporter edge '"py"'
	l3afd_start
	local before
	before=$(tcx_link_ids l3a0)
	assert_match "^tcx/egress=[0-9]+ tcx/ingress=[0-9]+$" "$before" "TCX links on l3a0 while running"
	in_client ping -q -c 3 -i 0.2 "$LAB_SERVER_V4" >/dev/null
	assert_eq "0" "$(l3afd_stop TERM)" "exit status after SIGTERM"
	lab_wait_for 5 "the forced-end records" jsonl_packets_reach py 3 --src "$LAB_SERVER_V4" --proto 1
	ping_flows_total 3
	assert_eq "4" "$(flows values reason --jsonl "$J" --proto 1 --src "$LAB_CLIENT_V4")" "request flow's reason"
	assert_eq "4" "$(flows values reason --jsonl "$J" --proto 1 --src "$LAB_SERVER_V4")" "reply flow's reason"
	assert_eq "$before" "$(tcx_link_ids l3a0)" "TCX links on l3a0 after the daemon exited"
}

# restart_under_ping SIGNAL: 40 pings over 4s; the daemon is stopped with
# SIGNAL after ~1s and started again while the pings go on.
restart_under_ping() {
	L3AF_EXPORTER_IDLE=1s l3afd_config_exporter edge '"py"'
	l3afd_start
	local links
	links=$(l3afd_link_ids)
	lab_spawn ping "$LAB_NS_CLIENT" ping -q -c 40 -i 0.1 "$LAB_SERVER_V4"
	lab_wait_for 5 "the first daemon to count the pings" l3afd_flows_active 2
	l3afd_stop "$1" >/dev/null || true # 137 after KILL
	l3afd_start
	assert_eq "$links" "$(l3afd_link_ids)" "link ids across the restart"
	lab_wait_for 10 "ping to finish" test -e "$LAB_DIR/run/ping.rc"
	assert_eq "0" "$(cat "$LAB_DIR/run/ping.rc")" "ping's exit status (every echo answered)"
	lab_wait_for 10 "all 40 replies exported" jsonl_packets_reach py 40 --src "$LAB_SERVER_V4" --proto 1
	# Anything exported late would only show as a surplus: give it one idle
	# timeout plus a poll to arrive before judging.
	lab_wait_for 5 "flows to expire" l3afd_flows_expired 2
	ping_flows_total 40
}

@test "restart (SIGTERM) under traffic: no packet lost or counted twice, same links" {
	restart_under_ping TERM
}

@test "restart after kill -9 under traffic: no packet lost or counted twice, same links" {
	restart_under_ping KILL
}
