#!/usr/bin/env bats
# Known traffic through the appliance, exported by l3afd from l3a0 (both
# directions) to nfcapd: every flow's packet and byte totals at the collector
# equal what was sent, exactly. Octets are IP-level: IPv4 total length, IPv6
# payload + 40. The run happens once in setup_file; each test checks one
# property of what arrived.
#
# Flows (a flow is per direction: client->server crosses l3a0 ingress,
# server->client crosses l3a0 egress):
#   ping  v4  5 x 100 B payload    request 5 x 128 B, reply 5 x 128 B
#   ping  v6  4 x 200 B payload    request 4 x 248 B, reply 4 x 248 B
#   UDP   v4  40001 -> 5001  payloads 10,100,1000,1400 twice
#   UDP   v6  40002 -> 5002  payloads 10,100,1000,1400
#   TCP   v4  40003 -> 5201  300000 bytes; v6 40005 -> 5201 100000 bytes
#         (totals from a capture on l3a0: segment counts depend on the stack)
#   VLAN 100  tagged UDP client -> appliance (ingress) and appliance -> client (egress)

load lib/common

setup_file() {
	suite_setup_file
	[ -z "$LAB_SKIP" ] || return 0

	l3afd_config_daemon
	l3afd_config_collector nfcapd "$LAB_COLLECTOR_V4" 4739 udp
	l3afd_config_exporter edge '"nfcapd"'

	nfcapd_start main "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4739 || return 1
	capture_start ipfix "$LAB_NS_COLLECTOR" eth0 udp port 4739 || return 1
	lab_spawn usink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-sink \
		--bind :: --ports 5001-5002 || return 1
	lab_spawn tsink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" tcp-sink \
		--bind :: --port 5201 || return 1
	l3afd_start || return 1
	capture_start l3a0 "$LAB_NS_APPL" l3a0 || return 1

	in_client ping -q -c 5 -i 0.2 -s 100 "$LAB_SERVER_V4" >/dev/null || return 1
	in_client ping -q -6 -c 4 -i 0.2 -s 200 "$LAB_SERVER_V6" >/dev/null || return 1
	SENT_UDP4=$(traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5001 --sport 40001 \
		--sizes 10,100,1000,1400 --repeat 2) || return 1
	SENT_UDP6=$(traffic_client udp-send --dst "$LAB_SERVER_V6" --port 5002 --sport 40002 \
		--sizes 10,100,1000,1400) || return 1
	traffic_client tcp-send --dst "$LAB_SERVER_V4" --port 5201 --sport 40003 --bytes 300000 >/dev/null ||
		return 1
	traffic_client tcp-send --dst "$LAB_SERVER_V6" --port 5201 --sport 40005 --bytes 100000 >/dev/null ||
		return 1
	SENT_VLAN_IN=$(traffic_client vlan-send --iface eth0 --dst-mac "$(appl_mac)" \
		--src "$LAB_CLIENT_VLAN_V4" --dst "$LAB_APPL_VLAN_V4" --vlan "$LAB_VLAN_ID" \
		--sport 40004 --port 5004 --sizes 50,60,70 2>/dev/null) || return 1
	SENT_VLAN_OUT=$(in_appl "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" vlan-send --iface l3a0 \
		--dst-mac "$(client_mac)" --src "$LAB_APPL_VLAN_V6" --dst "$LAB_CLIENT_VLAN_V6" \
		--vlan "$LAB_VLAN_ID" --sport 5004 --port 40004 --sizes 80,90 2>/dev/null) || return 1
	export SENT_UDP4 SENT_UDP6 SENT_VLAN_IN SENT_VLAN_OUT
	capture_stop l3a0 || return 1

	# Let the idle timeout export everything (no assertion here: if it never
	# happens, SIGTERM still exports every flow and the tests judge totals).
	lab_wait_for 15 "every flow to expire" l3afd_flows_expired 10
	DAEMON_RC=$(l3afd_stop TERM)
	export DAEMON_RC
	capture_stop ipfix || return 1
	nfcapd_stop main
	export NF="$LAB_DIR/nfdump.json" PCAP="$LAB_DIR/l3a0.pcap" IPFIX="$LAB_DIR/ipfix.pcap"
	nfdump_json main >"$NF"
}
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

@test "ICMP echo over IPv4: request and reply flows carry exactly the pings" {
	assert_eq "5 640" "$(totals --nfdump "$NF" --src "$LAB_CLIENT_V4" --dst "$LAB_SERVER_V4" \
		--proto 1 --icmp-type 8 --icmp-code 0)" "echo request flow (l3a0 ingress)"
	assert_eq "5 640" "$(totals --nfdump "$NF" --src "$LAB_SERVER_V4" --dst "$LAB_CLIENT_V4" \
		--proto 1 --icmp-type 0 --icmp-code 0)" "echo reply flow (l3a0 egress)"
	assert_eq "5 640" "$(totals --pcap "$PCAP" --src "$LAB_CLIENT_V4" --proto 1 --icmp-type 8)" \
		"ground truth: the capture on l3a0"
}

@test "ICMPv6 echo: request and reply flows carry exactly the pings" {
	assert_eq "4 992" "$(totals --nfdump "$NF" --src "$LAB_CLIENT_V6" --dst "$LAB_SERVER_V6" \
		--proto 58 --icmp-type 128 --icmp-code 0)" "echo request flow"
	assert_eq "4 992" "$(totals --nfdump "$NF" --src "$LAB_SERVER_V6" --dst "$LAB_CLIENT_V6" \
		--proto 58 --icmp-type 129 --icmp-code 0)" "echo reply flow"
}

@test "UDP over IPv4 and IPv6: exact packets and IP-level octets" {
	assert_eq "8 5244" "$SENT_UDP4" "sender (v4)"
	assert_eq "$SENT_UDP4" "$(totals --nfdump "$NF" --src "$LAB_CLIENT_V4" --dst "$LAB_SERVER_V4" \
		--proto 17 --sport 40001 --dport 5001)" "UDP v4 flow"
	assert_eq "4 2702" "$SENT_UDP6" "sender (v6)"
	assert_eq "$SENT_UDP6" "$(totals --nfdump "$NF" --src "$LAB_CLIENT_V6" --dst "$LAB_SERVER_V6" \
		--proto 17 --sport 40002 --dport 5002)" "UDP v6 flow"
}

@test "TCP over IPv4 and IPv6: both directions equal the capture on l3a0" {
	local want got spec
	for spec in "$LAB_CLIENT_V4 $LAB_SERVER_V4 40003" "$LAB_CLIENT_V6 $LAB_SERVER_V6 40005"; do
		read -r -a fields <<<"$spec"
		set -- "${fields[@]}"
		want=$(totals --pcap "$PCAP" --src "$1" --dst "$2" --proto 6 --sport "$3" --dport 5201)
		got=$(totals --nfdump "$NF" --src "$1" --dst "$2" --proto 6 --sport "$3" --dport 5201)
		assert_ge 50 "${want%% *}" "client->server segments captured ($1)"
		assert_eq "$want" "$got" "TCP client->server $1:$3"
		want=$(totals --pcap "$PCAP" --src "$2" --dst "$1" --proto 6 --sport 5201 --dport "$3")
		got=$(totals --nfdump "$NF" --src "$2" --dst "$1" --proto 6 --sport 5201 --dport "$3")
		assert_eq "$want" "$got" "TCP server->client $2 -> $1:$3"
	done
}

@test "VLAN 100: tagged flows carry vlanId 100 and exact totals, both directions" {
	assert_eq "3 264" "$SENT_VLAN_IN" "tagged sender (client -> appliance)"
	assert_eq "$SENT_VLAN_IN" "$(totals --nfdump "$NF" --src "$LAB_CLIENT_VLAN_V4" \
		--dst "$LAB_APPL_VLAN_V4" --proto 17 --dport 5004 --vlan "$LAB_VLAN_ID")" "tagged ingress flow"
	assert_eq "2 266" "$SENT_VLAN_OUT" "tagged sender (appliance -> client)"
	assert_eq "$SENT_VLAN_OUT" "$(totals --nfdump "$NF" --src "$LAB_APPL_VLAN_V6" \
		--dst "$LAB_CLIENT_VLAN_V6" --proto 17 --dport 40004 --vlan "$LAB_VLAN_ID")" "tagged egress flow"
	assert_eq "0" "$(flows values vlan --nfdump "$NF" --src "$LAB_CLIENT_V4")" "untagged flows' vlanId"
}

@test "records carry l3a0's ifindex, the flow direction, ports and TTLs" {
	assert_eq "$LAB_L3A0_IFINDEX" "$(flows values in_if --nfdump "$NF" --src "$LAB_CLIENT_V4")" \
		"ingressInterface of client->server flows"
	assert_eq "0" "$(flows values direction --nfdump "$NF" --src "$LAB_CLIENT_V4")" \
		"flowDirection of client->server flows (ingress)"
	assert_eq "$LAB_L3A0_IFINDEX" "$(flows values out_if --nfdump "$NF" --src "$LAB_SERVER_V4")" \
		"egressInterface of server->client flows"
	assert_eq "1" "$(flows values direction --nfdump "$NF" --src "$LAB_SERVER_V4")" \
		"flowDirection of server->client flows (egress)"
	# ICMP: no ports; type and code travel in icmpTypeCode (checked above).
	assert_eq "0" "$(flows values sport --tshark "$IPFIX" --proto 1)" "ICMP source port"
	assert_eq "0" "$(flows values dport --tshark "$IPFIX" --proto 1)" "ICMP destination port"
	# The request is seen before forwarding, the reply after it.
	assert_eq "64" "$(flows values min_ttl --tshark "$IPFIX" --src "$LAB_CLIENT_V4" --proto 1)" "request minimumTTL"
	assert_eq "64" "$(flows values max_ttl --tshark "$IPFIX" --src "$LAB_CLIENT_V4" --proto 1)" "request maximumTTL"
	assert_eq "63" "$(flows values min_ttl --tshark "$IPFIX" --src "$LAB_SERVER_V4" --proto 1)" "reply minimumTTL"
	assert_eq "63" "$(flows values max_ttl --tshark "$IPFIX" --src "$LAB_SERVER_V4" --proto 1)" "reply maximumTTL"
}

@test "nfdump -I: no sequence failures; nfcapd saw no bad packets" {
	run nfdump -R "$LAB_DIR/nfcapd-main" -I
	[ "$status" -eq 0 ]
	assert_match $'\nSequence failures: 0\n' "$output"$'\n' "nfdump -I"
	assert_match "Sequence Errors: 0, Bad Packets: 0" "$(grep '^Ident' "$LAB_DIR/nfcapd-main.log")" \
		"nfcapd's summary"
	assert_ge 12 "$(record_count --nfdump "$NF")" "records stored"
}

@test "tshark decodes every IPFIX message: nothing malformed, no expert warnings" {
	assert_eq "" "$(ipfix_pcap_problems "$IPFIX")" "tshark's findings"
	local datagrams
	datagrams=$(tshark -n -r "$IPFIX" -Y "udp.dstport==4739" 2>/dev/null | wc -l)
	assert_ge 1 "$datagrams" "IPFIX datagrams captured"
	assert_eq "$datagrams" "$(ipfix_pcap_messages "$IPFIX")" "messages decoded as IPFIX"
	# Flow records come from the configured domain; RFC 7011 section 3.1 has
	# messages about the Exporting Process itself use domain 0.
	assert_eq "7" "$(tshark -n -r "$IPFIX" -d udp.port==4739,cflow -E occurrence=f -T fields -e cflow.od_id \
		-Y "cflow.flowset_id == 256 or cflow.flowset_id == 257" 2>/dev/null | sort -u)" \
		"observation domain of every message with flow records"
	assert_match "^(0 )?7 $" "$(tshark -n -r "$IPFIX" -d udp.port==4739,cflow -E occurrence=f -T fields \
		-e cflow.od_id 2>/dev/null | sort -u | tr '\n' ' ')" "observation domains of all messages"
}

@test "two decoders agree: tshark's totals equal nfdump's" {
	assert_eq "$(flows sum --nfdump "$NF")" "$(flows sum --tshark "$IPFIX")" "all records: nfdump vs tshark"
}

@test "SIGTERM: l3afd exports what is left and exits 0" {
	assert_eq "0" "$DAEMON_RC" "exit status after SIGTERM"
}
