#!/usr/bin/env bats
# Mirroring over GUE: l3afd clones the packets of l3a0 that match a mirror's
# rules to its tunnel (veth pair l3t-<name>/l3p-<name> in the appliance), the
# encapsulation program wraps each in outer IPv4 + UDP 6080 + GUE and sends
# it out l3a2 to the analyzer (lab_setup --analyzer; l3a2 and the analyzer's
# eth0 have MTU 9000, so full-size packets fit once encapsulated).
#
# Ground truth never comes from l3afd: a capture on l3a0 is what crossed the
# mirrored link; tcpdump filters written here select from it what each rule
# should match; lib/gue.py checks every packet that reached the analyzer (outer
# IPv4 checksum, UDP length, GUE variant 0 and proto 4/41, the flow-hash source
# port) and gives the inner packets, which must equal the selection byte for
# byte and in order.
#
# The client and the server compute their checksums themselves (transmit
# checksum offload off on their eth0), so what crosses l3a0 is what a wire
# carries; with the offload on, a capture on l3a0 shows the partial sums the
# device was to complete, and the mirror carries the completed ones (a test
# below turns it on to check exactly that).

load lib/common

setup_file() {
	suite_setup_file --analyzer
	[ -z "$LAB_SKIP" ] || return 0
	sender_tx_checksums off
}
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	l3afd_config_daemon
	# The analyzer accepts and drops the mirror (no ICMP port unreachable
	# goes back); the server accepts the test's UDP (no ICMP errors either,
	# which an "icmp" rule would match).
	lab_spawn asink "$LAB_NS_ANALYZER" "$LAB_PYTHON" "$LAB_LIB_DIR/gue.py" sink --port 6080
	lab_spawn usink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-sink \
		--bind :: --ports 4990-5012
	lab_wait_for 10 "the UDP sinks" _sinks_listening
}
teardown() {
	# A test that changes the analyzer link's MTU or adds devices undoes it
	# here, whatever happened to it.
	[ -z "${LAB_SKIP:-}" ] || return 0
	ip -n "$LAB_NS_APPL" link set l3a2 mtu 9000 2>/dev/null || true
	ip -n "$LAB_NS_ANALYZER" link set eth0 mtu 9000 2>/dev/null || true
	ip -n "$LAB_NS_APPL" link del l3t-foreign 2>/dev/null || true
	ip -n "$LAB_NS_APPL" link del noip0 2>/dev/null || true
	sender_tx_checksums off || true
	suite_teardown
}

# sender_tx_checksums on|off: transmit checksum offload of the client's and
# the server's eth0.
sender_tx_checksums() {
	in_client ethtool -K eth0 tx "$1" >/dev/null &&
		in_server ethtool -K eth0 tx "$1" >/dev/null
}

_sinks_listening() {
	_lab_udp_listening "$LAB_NS_ANALYZER" 6080 "$(lab_pid asink)" &&
		_lab_udp_listening "$LAB_NS_SERVER" 5012 "$(lab_pid usink)"
}

# The tunnel every test uses: defaults (local = l3a2's first IPv4 address,
# port 6080, source_port "flow", no checksum, TTL 64).
tunnel_ana() { l3afd_config_tunnel ana; }

# pcap_select IN OUT FILTER: the frames of IN that the tcpdump FILTER accepts.
pcap_select() { tcpdump -r "$1" -w "$2" "$3" 2>/dev/null; }

# Captures on the mirrored link and at the analyzer (GUE only).
captures_start() {
	capture_start l3a0 "$LAB_NS_APPL" l3a0 &&
		capture_start ana "$LAB_NS_ANALYZER" eth0 udp port 6080
}
captures_stop() { capture_stop l3a0 && capture_stop ana; }

# analyzer_inner OUT [gue.py options]: checks every GUE packet the analyzer
# captured, as the tunnel's defaults make them (and the inner L4 checksums),
# and writes the inner packets to OUT (raw IP pcap).
analyzer_inner() {
	local out=$1
	shift
	gue inner "$(capture_file ana)" --src "$LAB_APPL_L3A2_V4" --dst "$LAB_ANALYZER_V4" \
		--ttl 64 --sport flow --l4-checksums --write "$out" "$@"
}

# assert_same_packets EXPECTED_PCAP GOT_PCAP WHAT [SNAPLEN [frames options]]:
# the IP packets of both files (Ethernet stripped; EXPECTED cut to SNAPLEN
# bytes of the frame) are the same bytes in the same order, and there is at
# least one.
assert_same_packets() {
	local want=$1 got=$2 what=$3 snaplen=${4:-0}
	shift 4 2>/dev/null || shift $#
	gue frames --snaplen "$snaplen" "$@" "$want" >"$want.hex"
	gue frames "$@" "$got" >"$got.hex"
	if [ ! -s "$want.hex" ]; then
		echo "$what: the test sent nothing the rules match ($want is empty)"
		return 1
	fi
	if ! diff -q "$want.hex" "$got.hex" >/dev/null; then
		echo "$what: the analyzer's inner packets differ from l3a0's"
		echo "expected $(wc -l <"$want.hex") packets, got $(wc -l <"$got.hex"); first differences (hex):"
		diff "$want.hex" "$got.hex" | head -n 10 | cut -c 1-200
		return 1
	fi
}

count_frames() { gue frames --stats "$1" | cut -d' ' -f1; }

tunnel_sent_at_least() { [ "$(l3afd_jq '.tunnels[0].sent')" -ge "$1" ]; }

# revision_replaced OLD: the daemon runs another revision of the mirror than
# OLD, on every attachment.
revision_replaced() {
	l3afd_status_json | jq -e --arg old "$1" '.daemon.last_error == null and
		(.mirrors[0].revisions | join(" ")) != $old and
		all(.mirrors[0].attachments[]; .revision != $old and .state == "attached")'
}

@test "exactly the packets the rules match reach the analyzer, byte for byte, in order" {
	tunnel_ana
	l3afd_config_mirror m ana 0 \
		'[[mirror.rule]]' 'protocol = "udp"' 'dst_port = "5000-5009"' \
		'[[mirror.rule]]' 'protocol = "icmp"'
	lab_spawn tsink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" tcp-sink \
		--bind :: --port 5201
	run l3afd_cmd apply
	echo "$output"
	[ "$status" -eq 0 ]
	# The kernel resolves the analyzer's address itself (ARP), not the lab.
	ip -n "$LAB_NS_APPL" neigh del "$LAB_ANALYZER_V4" dev l3a2
	captures_start
	capture_start l3t "$LAB_NS_APPL" l3t-ana

	in_client ping -q -c 4 -i 0.05 -s 100 "$LAB_SERVER_V4" >/dev/null
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5000 --sport 40001 --sizes 10,200,1400
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5009 --sport 40001 --sizes 50
	# Not matched: ports outside the range, a source port inside it, TCP,
	# ICMPv6 (the rule says icmp, IPv4's).
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5010 --sport 40001 --sizes 50,60
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 4999 --sport 40001 --sizes 50
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 4990 --sport 5005 --sizes 70
	traffic_client tcp-send --dst "$LAB_SERVER_V4" --port 5201 --sport 40002 --bytes 50000
	in_client ping -q -6 -c 2 -i 0.05 "$LAB_SERVER_V6" >/dev/null
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5001 --sport 40003 --sizes 30
	captures_stop
	capture_stop l3t

	local want="$LAB_DIR/want.pcap"
	pcap_select "$(capture_file l3a0)" "$want" 'icmp or (udp and dst portrange 5000-5009)'
	assert_eq 13 "$(count_frames "$want")" "matching packets that crossed l3a0 (4 pings x 2, 5 UDP)"
	analyzer_inner "$LAB_DIR/inner.pcap"
	assert_same_packets "$want" "$LAB_DIR/inner.pcap" "analyzer"
	# The rest crossed l3a0 too, and none of it was mirrored (the
	# comparison above is exact): TCP, UDP 5010/4999/4990, ICMPv6.
	local rest="$LAB_DIR/rest.pcap"
	pcap_select "$(capture_file l3a0)" "$rest" 'not (icmp or (udp and dst portrange 5000-5009))'
	assert_ge 40 "$(count_frames "$rest")" "non-matching packets on l3a0"
	assert_eq 0 "$(tcpdump -r "$LAB_DIR/inner.pcap" 2>/dev/null 'tcp or icmp6 or udp dst port 5010 or udp dst port 4999 or udp dst port 4990' | wc -l)" \
		"non-matching packets at the analyzer"
	# The tunnel's veth carries the clones as they were: whole frames.
	assert_eq "$(gue frames "$want")" "$(gue frames "$(capture_file l3t)")" "frames on l3t-ana"
	assert_eq "$(tcpdump -r "$want" -n -e 2>/dev/null | cut -d' ' -f2-)" \
		"$(tcpdump -r "$(capture_file l3t)" -n -e 2>/dev/null | cut -d' ' -f2-)" \
		"Ethernet headers on l3t-ana"
	# Each mirrored packet went out once: every GUE packet is IPv4 in IPv4.
	assert_eq "13 4" "$(gue outer "$(capture_file ana)" | jq -rs '"\(length) \(map(.gue_proto) | unique | join(","))"')" \
		"GUE packets, protos"
}

@test "IPv6 rules: v6 packets arrive with GUE proto 41, byte for byte" {
	tunnel_ana
	l3afd_config_mirror m6 ana 0 \
		'[[mirror.rule]]' 'dst = "fd00:2::/64"' 'protocol = "udp"'
	run l3afd_cmd apply
	echo "$output"
	[ "$status" -eq 0 ]
	captures_start

	traffic_client udp-send --dst "$LAB_SERVER_V6" --port 5000 --sport 40001 --sizes 10,500,1400
	traffic_client udp-send --dst "$LAB_SERVER_V6" --port 4995 --sport 40002 --sizes 20
	# Not matched: ICMPv6, UDP over IPv4, UDP to the client's prefix.
	in_client ping -q -6 -c 2 -i 0.05 "$LAB_SERVER_V6" >/dev/null
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5000 --sport 40001 --sizes 10
	in_server "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-send --dst "$LAB_CLIENT_V6" \
		--port 7000 --sport 7001 --sizes 40
	captures_stop

	local want="$LAB_DIR/want6.pcap"
	pcap_select "$(capture_file l3a0)" "$want" 'ip6 and udp and dst net fd00:2::/64'
	assert_eq 4 "$(count_frames "$want")" "matching packets that crossed l3a0"
	analyzer_inner "$LAB_DIR/inner6.pcap"
	assert_same_packets "$want" "$LAB_DIR/inner6.pcap" "analyzer"
	assert_eq "4 41" "$(gue outer "$(capture_file ana)" | jq -rs '"\(length) \(map(.gue_proto) | unique | join(","))"')" \
		"GUE packets, protos"
}

@test "snaplen = 100: each inner packet is the frame's first 100 bytes without its L2 header" {
	# DESIGN: "N: first N bytes of the frame"; gue_encap.bpf.c keeps
	# N - (14 + 4 per VLAN tag) bytes of the IP packet: 86 untagged, 82 tagged.
	tunnel_ana
	l3afd_config_mirror snap ana 100 '[[mirror.rule]]' 'protocol = "udp"'
	run l3afd_cmd apply
	echo "$output"
	[ "$status" -eq 0 ]
	captures_start

	# Frames of 52, 100 (not cut), 101 and 1442 bytes; IPv6 72 and 1062;
	# 802.1Q-tagged 56 and 1046.
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5000 --sport 40001 --sizes 10,58,59,1400
	traffic_client udp-send --dst "$LAB_SERVER_V6" --port 5000 --sport 40001 --sizes 10,1000
	traffic_client vlan-send --iface eth0 --dst-mac "$(appl_mac)" --src "$LAB_CLIENT_VLAN_V4" \
		--dst "$LAB_APPL_VLAN_V4" --vlan "$LAB_VLAN_ID" --sport 40004 --port 5004 \
		--sizes 10,1000 2>/dev/null
	captures_stop

	local want="$LAB_DIR/want-snap.pcap"
	pcap_select "$(capture_file l3a0)" "$want" 'udp or (vlan and udp)'
	assert_eq 8 "$(count_frames "$want")" "UDP frames that crossed l3a0"
	analyzer_inner "$LAB_DIR/inner-snap.pcap"
	assert_same_packets "$want" "$LAB_DIR/inner-snap.pcap" "analyzer" 100
	# Inner lengths, and the outer lengths that follow from them (gue.py
	# checked UDP length = IP length - 20 and IP length = bytes received).
	assert_eq "38:70:50 86:118:98 86:118:98 86:118:98 58:90:70 86:118:98 38:70:50 82:114:94" \
		"$(gue outer "$(capture_file ana)" | jq -rs 'map("\(.inner_len):\(.ip_len):\(.udp_len)") | join(" ")')" \
		"inner:outer IP:UDP lengths"
	# The truncated inner IPv4 packet still says how long the original was.
	assert_eq "1428" "$(tcpdump -r "$LAB_DIR/inner-snap.pcap" -n -v 2>/dev/null |
		sed -n 's/.*proto UDP (17), length \([0-9]*\)).*/\1/p' | sed -n 4p)" \
		"IPv4 total length of the cut 1400-byte datagram"
	assert_eq "4 8 0" "$(l3afd_jq '.tunnels[] | select(.name == "ana") | "\(.truncated) \(.sent) \(.too_big)"')" \
		"tunnel truncated, sent, too_big"
}

@test "checksums left to the sender's NIC arrive completed; checksum = true gives a valid outer one" {
	l3afd_config_tunnel ana 'checksum = true'
	l3afd_config_mirror sums ana 0 \
		'[[mirror.rule]]' "src = \"$LAB_CLIENT_V4/32\"" '[[mirror.rule]]' "src = \"$LAB_CLIENT_V6/128\""
	lab_spawn tsink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" tcp-sink \
		--bind :: --port 5201
	run l3afd_cmd apply
	echo "$output"
	[ "$status" -eq 0 ]
	in_client ethtool -K eth0 tx on >/dev/null
	captures_start

	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5000 --sport 40001 --sizes 10,1000,1400
	traffic_client udp-send --dst "$LAB_SERVER_V6" --port 5000 --sport 40001 --sizes 10,1400
	traffic_client tcp-send --dst "$LAB_SERVER_V4" --port 5201 --sport 40002 --bytes 30000
	traffic_client tcp-send --dst "$LAB_SERVER_V6" --port 5201 --sport 40003 --bytes 30000
	captures_stop

	local want="$LAB_DIR/want-sums.pcap" inner="$LAB_DIR/inner-sums.pcap"
	pcap_select "$(capture_file l3a0)" "$want" "ether src $(client_mac)"
	assert_ge 30 "$(count_frames "$want")" "client packets on l3a0"
	# Outer UDP checksums right (--checksum), inner L4 checksums right.
	analyzer_inner "$inner" --checksum
	# The same packets but for the L4 checksum fields, which on l3a0 were
	# still partial sums (so they differ there).
	assert_same_packets "$want" "$inner" "analyzer (L4 checksums masked)" 0 --mask-l4-checksum
	if [ "$(gue frames "$want")" = "$(gue frames "$inner")" ]; then
		echo "l3a0 showed complete checksums: the sender's offload was not in use, nothing was tested"
		false
	fi
}

@test "the mirrored traffic itself is unchanged: a 5 MB transfer and pings, everything mirrored" {
	tunnel_ana
	l3afd_config_mirror all ana 0 '[[mirror.rule]]'
	run l3afd_cmd apply
	echo "$output"
	[ "$status" -eq 0 ]
	local src="$LAB_DIR/5mb.bin" dst="$LAB_DIR/5mb.out"
	head -c 5000000 /dev/urandom >"$src"
	lab_spawn ncsrv "$LAB_NS_SERVER" sh -c "exec nc -l 5202 >'$dst'"
	lab_wait_for 10 "nc listening" _lab_tcp_listening "$LAB_NS_SERVER" 5202 "$(lab_pid ncsrv)"
	lab_spawn ping "$LAB_NS_CLIENT" ping -c 100 -i 0.02 "$LAB_SERVER_V4"
	in_client timeout 60 nc -N "$LAB_SERVER_V4" 5202 <"$src"
	lab_wait_for 30 "nc on the server to finish" test -e "$LAB_DIR/run/ncsrv.rc"
	lab_wait_for 30 "ping to finish" test -e "$LAB_DIR/run/ping.rc"

	assert_eq "$(sha256sum <"$src")" "$(sha256sum <"$dst")" "sha256 of what the server received"
	grep -q "100 packets transmitted, 100 received, 0% packet loss" "$LAB_DIR/ping.log" ||
		{ cat "$LAB_DIR/ping.log"; false; }
	# It was mirrored, all of it fitting the tunnel's device.
	local s
	s=$(l3afd_status_json)
	jq -c '(.mirrors[] | {ingress, egress}), (.tunnels[] | {sent, failed, too_big, truncated})' <<<"$s"
	assert_ge 3500 "$(jq '.tunnels[0].sent' <<<"$s")" "packets sent to the analyzer"
	assert_eq "0 0" "$(jq -r '.tunnels[0] | "\(.too_big) \(.truncated)"' <<<"$s")" \
		"tunnel too_big, truncated"
	# Conservation: every packet matched was sent or counted as lost (a clone
	# the tunnel veth's backlog refused, a failed encapsulation); nothing is
	# lost unseen between the mirror and the analyzer's link.
	assert_eq "$(jq '.mirrors[0] | .ingress.matched + .egress.matched' <<<"$s")" \
		"$(jq '.tunnels[0].sent + .tunnels[0].failed + .mirrors[0].ingress.clone_failed +
			.mirrors[0].egress.clone_failed' <<<"$s")" "matched vs sent + failed + clone_failed"
}

@test "a mirror of everything leaving the tunnel's device: each packet reaches the analyzer once, never inside another GUE packet" {
	# "Mirror everything on eth0, tunnel out eth0": mirror 'wire' takes every
	# packet leaving l3a2, the device the tunnel leaves by, which the tunnel's
	# own GUE packets are too; mirror 'in' takes the client's UDP on l3a0.
	tunnel_ana
	L3AF_MIRROR_DIRECTION=ingress l3afd_config_mirror in ana 0 '[[mirror.rule]]' 'protocol = "udp"'
	L3AF_MIRROR_INTERFACE=l3a2 L3AF_MIRROR_DIRECTION=egress l3afd_config_mirror wire ana 0 \
		'[[mirror.rule]]'
	run l3afd_cmd apply
	echo "$output"
	[ "$status" -eq 0 ]
	captures_start

	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5000 --sport 40001 --sizes 10,200,1400
	traffic_client udp-send --dst "$LAB_SERVER_V6" --port 5001 --sport 40002 --sizes 30
	# The appliance's own packets out of l3a2 are the 'wire' mirror's to take.
	in_appl ping -q -c 2 -i 0.05 "$LAB_ANALYZER_V4" >/dev/null
	captures_stop

	local want="$LAB_DIR/want-wire.pcap" inner="$LAB_DIR/inner-wire.pcap"
	pcap_select "$(capture_file l3a0)" "$want" "udp and ether src $(client_mac)"
	assert_eq 4 "$(count_frames "$want")" "client UDP packets on l3a0"
	analyzer_inner "$inner"
	# Every client packet once, byte for byte and in order: a GUE packet
	# mirrored again would arrive as an inner UDP packet to 6080.
	pcap_select "$inner" "$LAB_DIR/inner-wire-udp.pcap" 'udp'
	assert_same_packets "$want" "$LAB_DIR/inner-wire-udp.pcap" "analyzer"
	assert_eq 2 "$(tcpdump -r "$inner" -n 2>/dev/null |
		grep -c "IP $LAB_APPL_L3A2_V4 > $LAB_ANALYZER_V4: ICMP echo request")" \
		"the appliance's pings, mirrored by 'wire'"
	assert_eq 6 "$(count_frames "$inner")" "packets at the analyzer"
	local s
	s=$(l3afd_status_json)
	jq -c '(.mirrors[] | {name, ingress, egress}), (.tunnels[] | {sent, failed})' <<<"$s"
	# 'wire' saw each GUE packet leave and passed it over.
	assert_eq "6 0" "$(jq -r '.tunnels[0] | "\(.sent) \(.failed)"' <<<"$s")" "tunnel sent, failed"
	assert_eq "6 2" "$(jq -r '.mirrors[] | select(.name == "wire") | .egress |
		"\(.own_tunnel) \(.matched)"' <<<"$s")" "'wire' egress own_tunnel, matched"
	assert_eq "4 0" "$(jq -r '.mirrors[] | select(.name == "in") | .ingress |
		"\(.matched) \(.own_tunnel)"' <<<"$s")" "'in' ingress matched, own_tunnel"
}

@test "status counters equal what the captures saw" {
	tunnel_ana
	# Rule 2 overlaps rule 0: a packet counts once, under rule 0.
	l3afd_config_mirror cnt ana 0 \
		'[[mirror.rule]]' 'protocol = "udp"' 'dst_port = "5000-5009"' \
		'[[mirror.rule]]' 'protocol = "icmp"' \
		'[[mirror.rule]]' 'protocol = "udp"' 'src_port = 4000'
	lab_spawn tsink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" tcp-sink \
		--bind :: --port 5201
	captures_start
	run l3afd_cmd apply
	echo "$output"
	[ "$status" -eq 0 ]

	in_client ping -q -c 3 -i 0.05 -s 300 "$LAB_SERVER_V4" >/dev/null
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5001 --sport 4000 --sizes 10,1000,1400
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 4995 --sport 4000 --sizes 100,200
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 4995 --sport 4001 --sizes 100
	traffic_client udp-send --dst "$LAB_SERVER_V6" --port 5002 --sport 40001 --sizes 64
	traffic_client tcp-send --dst "$LAB_SERVER_V4" --port 5201 --sport 40002 --bytes 20000
	captures_stop

	local l3a0 s want got
	l3a0=$(capture_file l3a0)
	s=$(l3afd_status_json)
	# Per rule: packets and frame bytes, as the capture on l3a0 counts them.
	pcap_select "$l3a0" "$LAB_DIR/r0.pcap" 'udp and dst portrange 5000-5009'
	pcap_select "$l3a0" "$LAB_DIR/r1.pcap" 'icmp'
	pcap_select "$l3a0" "$LAB_DIR/r2.pcap" 'udp and src port 4000 and not dst portrange 5000-5009'
	want="$(gue frames --stats "$LAB_DIR/r0.pcap") $(gue frames --stats "$LAB_DIR/r1.pcap") $(gue frames --stats "$LAB_DIR/r2.pcap")"
	got=$(jq -r '.mirrors[0].rules | map("\(.packets) \(.bytes)") | join(" ")' <<<"$s")
	assert_eq "$want" "$got" "per-rule packets/bytes (rule 0, 1, 2)"
	# UDP frames: payload + 42 (IPv4) or + 62 (IPv6); pings of 300: 342.
	assert_eq "4 2662 6 2052 2 384" "$got" "per-rule packets/bytes, by the senders' arithmetic"
	# Seen: every frame that crossed each hook (ingress: sent by the client).
	local cmac
	cmac=$(client_mac)
	pcap_select "$l3a0" "$LAB_DIR/in.pcap" "ether src $cmac"
	pcap_select "$l3a0" "$LAB_DIR/out.pcap" "not ether src $cmac"
	assert_eq "$(count_frames "$LAB_DIR/in.pcap") $(count_frames "$LAB_DIR/out.pcap")" \
		"$(jq -r '.mirrors[0] | "\(.ingress.seen) \(.egress.seen)"' <<<"$s")" "seen ingress, egress"
	assert_eq 12 "$(jq -r '.mirrors[0] | .ingress.matched + .egress.matched' <<<"$s")" "matched"
	# The tunnel: what it sent is what the analyzer received.
	local outer
	outer=$(gue outer "$(capture_file ana)" | jq -rs '"\(length) \(map(.ip_len) | add)"')
	assert_eq "$outer 0 0 0 0" \
		"$(jq -r '.tunnels[0] | "\(.sent) \(.sent_bytes) \(.truncated) \(.failed) \(.too_big) \(.ignored)"' <<<"$s")" \
		"tunnel sent, sent_bytes (= analyzer packets, outer IP bytes), truncated, failed, too_big, ignored"
	assert_eq 12 "${outer% *}" "packets at the analyzer"

	# A clone too big for l3a2 once encapsulated is dropped and counted.
	ip -n "$LAB_NS_APPL" link set l3a2 mtu 1400
	ip -n "$LAB_NS_ANALYZER" link set eth0 mtu 1400
	capture_start ana "$LAB_NS_ANALYZER" eth0 udp port 6080
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5003 --sport 40005 --sizes 1340,1341,20
	capture_stop ana
	# 1340 + 28 + 32 = 1400 fits; 1401 does not.
	assert_eq "1400 80" "$(gue outer "$(capture_file ana)" | jq -rs 'map(.ip_len) | join(" ")')" \
		"outer IP lengths at the analyzer"
	# status: failed counts every clone not sent, too_big those of them.
	assert_eq "14 1 1" "$(l3afd_jq '.tunnels[0] | "\(.sent) \(.too_big) \(.failed)"')" \
		"tunnel sent, too_big, failed"
}

@test "SIGHUP with edited rules: what is mirrored changes, same links, new revision, no packet lost" {
	tunnel_ana
	l3afd_config_mirror live ana 0 '[[mirror.rule]]' 'protocol = "icmp"'
	l3afd_start
	local s rev links kernel
	s=$(l3afd_status_json)
	rev=$(jq -r '.mirrors[0].revisions | join(" ")' <<<"$s")
	links=$(jq -r '[.mirrors[0].attachments[] | "\(.hook)=\(.link_id)"] | sort | join(" ")' <<<"$s")
	kernel=$(tcx_link_ids l3a0)
	assert_match '^tcx/egress=[0-9]+ tcx/ingress=[0-9]+$' "$kernel" "TCX links on l3a0"
	captures_start

	lab_spawn ping "$LAB_NS_CLIENT" ping -c 400 -i 0.01 "$LAB_SERVER_V4"
	lab_wait_for 10 "pings to be mirrored" tunnel_sent_at_least 40
	l3afd_config_mirror live ana 0 '[[mirror.rule]]' 'protocol = "udp"' 'dst_port = "5000-5009"'
	kill -HUP "$(lab_pid l3afd)"
	lab_wait_for 10 "the new revision to run" revision_replaced "$rev"
	lab_wait_for 20 "ping to finish" test -e "$LAB_DIR/run/ping.rc"
	# Sent after the reload: UDP mirrored, ICMP no longer.
	traffic_client udp-send --dst "$LAB_SERVER_V4" --port 5001 --sport 40001 --sizes 10,20,30
	in_client ping -q -c 3 -i 0.05 "$LAB_SERVER_V4" >/dev/null
	captures_stop

	grep -q "400 packets transmitted, 400 received, 0% packet loss" "$LAB_DIR/ping.log" ||
		{ cat "$LAB_DIR/ping.log"; false; }
	s=$(l3afd_status_json)
	assert_eq "$links" "$(jq -r '[.mirrors[0].attachments[] | "\(.hook)=\(.link_id)"] | sort | join(" ")' <<<"$s")" \
		"the mirror's link ids (status)"
	assert_eq "$kernel" "$(tcx_link_ids l3a0)" "TCX links on l3a0 (bpftool)"
	local newrev
	newrev=$(jq -r '.mirrors[0].revisions | join(" ")' <<<"$s")
	[ "$newrev" != "$rev" ] || { echo "revision unchanged: $rev"; false; }
	assert_eq "protocol udp dst_port 5000-5009" "$(jq -r '.mirrors[0].rules | map(.match) | join(",")' <<<"$s")" \
		"the rules status shows"

	local inner="$LAB_DIR/inner-live.pcap" l3a0
	l3a0=$(capture_file l3a0)
	analyzer_inner "$inner"
	# The UDP after the reload arrived, exactly.
	pcap_select "$l3a0" "$LAB_DIR/udp-want.pcap" 'udp and dst port 5001'
	pcap_select "$inner" "$LAB_DIR/udp-got.pcap" 'udp'
	assert_same_packets "$LAB_DIR/udp-want.pcap" "$LAB_DIR/udp-got.pcap" "UDP after the reload"
	# In each direction the mirrored pings are the first K that crossed
	# l3a0, with none missing before the switch and none after it.
	local kind n total
	for kind in icmp-echo icmp-echoreply; do
		pcap_select "$l3a0" "$LAB_DIR/$kind-want.pcap" "icmp[icmptype] == $kind"
		pcap_select "$inner" "$LAB_DIR/$kind-got.pcap" "icmp[icmptype] == $kind"
		n=$(count_frames "$LAB_DIR/$kind-got.pcap")
		total=$(count_frames "$LAB_DIR/$kind-want.pcap")
		echo "$kind: $n of $total mirrored"
		assert_ge 20 "$n" "$kind mirrored before the reload"
		[ "$n" -lt "$total" ] || { echo "$kind: all $total mirrored, also after the reload"; false; }
		gue frames "$LAB_DIR/$kind-want.pcap" >"$LAB_DIR/$kind-want.hex"
		head -n "$n" "$LAB_DIR/$kind-want.hex" >"$LAB_DIR/$kind-prefix.hex"
		gue frames "$LAB_DIR/$kind-got.pcap" >"$LAB_DIR/$kind-got.hex"
		diff -q "$LAB_DIR/$kind-prefix.hex" "$LAB_DIR/$kind-got.hex" ||
			{ echo "$kind: the mirrored pings are not the first $n of l3a0's"; false; }
	done
	assert_eq 0 "$(tcpdump -r "$inner" 2>/dev/null 'not (icmp or udp)' | wc -l)" "other packets at the analyzer"
}

@test "reset removes the tunnel devices and every pin, and leaves the lab's devices alone" {
	tunnel_ana
	l3afd_config_mirror m ana 0 '[[mirror.rule]]' 'protocol = "icmp"'
	# Someone else's veth pair named like a tunnel's, without l3afd's alias.
	ip -n "$LAB_NS_APPL" link add l3t-foreign type veth peer name l3p-foreign
	local before
	before=$(ip -n "$LAB_NS_APPL" -j addr show | jq -c 'map({ifname, ifindex, mtu, address,
		addr_info: [.addr_info[] | "\(.local)/\(.prefixlen)"]}) | sort_by(.ifname)')
	l3afd_cmd apply
	assert_eq "l3af:tunnel:ana l3af:tunnel:ana" \
		"$(ip -n "$LAB_NS_APPL" -j link show | jq -r '[.[] | select(.ifname == "l3t-ana" or .ifname == "l3p-ana") | .ifalias] | join(" ")')" \
		"the tunnel's veth pair and its alias"
	[ -n "$(lab_pinned_objects)" ]
	[ -n "$(tcx_link_ids l3a0)" ]

	run l3afd_cmd reset
	echo "$output"
	[ "$status" -eq 0 ]
	assert_eq "" "$(lab_pinned_objects)" "objects left under pin_root"
	assert_eq "" "$(tcx_link_ids l3a0)" "TCX links left on l3a0"
	assert_eq "$before" "$(ip -n "$LAB_NS_APPL" -j addr show | jq -c 'map({ifname, ifindex, mtu, address,
		addr_info: [.addr_info[] | "\(.local)/\(.prefixlen)"]}) | sort_by(.ifname)')" \
		"the appliance's devices (l3t-ana and l3p-ana gone, the rest as before)"
	in_client ping -q -c 1 -W 2 "$LAB_SERVER_V4" >/dev/null
	in_analyzer ping -q -c 1 -W 2 "$LAB_APPL_L3A2_V4" >/dev/null
	ip -n "$LAB_NS_APPL" link del l3t-foreign
}

@test "bad input: an unknown tunnel fails check; a device without IPv4 fails that tunnel only" {
	tunnel_ana
	l3afd_config_mirror m ana 0 '[[mirror.rule]]' 'protocol = "icmp"'
	local f="$LAB_CONF/50-bad.toml"
	printf '%s\n' '[[mirror]]' 'name = "lost"' 'interface = "l3a1"' 'tunnel = "nowhere"' \
		'  [[mirror.rule]]' '  protocol = "udp"' >"$f"
	run in_appl "$L3AFD" check "$LAB_CONF"
	echo "$output"
	[ "$status" -eq 1 ]
	assert_match "(^|"$'\n'")$f:4:[0-9]+: error: [^"$'\n'"]*nowhere" "$output" "check's diagnostic"
	run l3afd_cmd apply
	[ "$status" -ne 0 ]
	assert_eq "" "$(tcx_link_ids l3a0)" "TCX links after apply of a bad config"

	# A device that exists but has no IPv4 address, and no `local`.
	ip -n "$LAB_NS_APPL" link add noip0 type veth peer name noip1
	ip -n "$LAB_NS_APPL" link set noip0 up
	ip -n "$LAB_NS_APPL" link set noip1 up
	printf '%s\n' '# a tunnel whose device has no IPv4 address' '[[tunnel]]' 'name = "bare"' \
		"remote = \"$LAB_ANALYZER_V4\"" 'device = "noip0"' '' '[[mirror]]' 'name = "lost"' \
		'interface = "l3a1"' 'tunnel = "bare"' '  [[mirror.rule]]' '  protocol = "udp"' >"$f"
	run in_appl "$L3AFD" check "$LAB_CONF"
	[ "$status" -eq 0 ]
	run l3afd_cmd apply
	echo "$output"
	[ "$status" -eq 1 ]
	assert_match "$f:2:[0-9]+: [^"$'\n'"]*bare" "$output" "apply's error for tunnel 'bare'"
	# Nothing for it: no veth pair, no links on l3a1; the good tunnel and
	# mirror are there.
	assert_eq "" "$(ip -n "$LAB_NS_APPL" -j link show | jq -r '[.[] | select(.ifname | endswith("-bare"))] | map(.ifname) | join(" ")')" \
		"devices of tunnel 'bare'"
	assert_eq "" "$(tcx_link_ids l3a1)" "TCX links on l3a1 (mirror 'lost')"
	local s
	s=$(l3afd_status_json)
	assert_eq "" "$(jq -r '[.tunnels[], .mirrors[] | select(.name == "bare" or .name == "lost") |
		.attachments[]] | map(.interface) | join(" ")' <<<"$s")" "attachments of 'bare' and 'lost'"
	assert_eq "l3a0 l3a0 l3p-ana" "$(jq -r '[.tunnels[], .mirrors[] | .attachments[] |
		select(.state == "attached") | .interface] | sort | join(" ")' <<<"$s")" "what is attached"
	ip -n "$LAB_NS_APPL" link del noip0
}

@test "the GUE checks catch malformed packets (no l3afd)" {
	# Frames written by scapy: a good one, then one fault each.
	"$LAB_PYTHON" - "$LAB_DIR/gue-bad" <<'EOF'
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
inner = bytes(IP(src="10.10.1.2", dst="10.10.2.2") / UDP(sport=1, dport=2) / b"x")
def frame(gue=b"\x00\x04\x00\x00", ip={}, udp={}, payload=inner):
    return Ether() / IP(**{"src": "10.10.5.1", "dst": "10.10.5.2", "ttl": 64, **ip}) / \
        UDP(**{"sport": 50000, "dport": 6080, "chksum": 0, **udp}) / Raw(gue + payload)
cases = {
    "good": frame(),
    "ipsum": frame(ip={"chksum": 0x1234}),
    "udplen": frame(udp={"len": 20}),
    "version": frame(gue=b"\x40\x04\x00\x00"),
    "control": frame(gue=b"\x20\x04\x00\x00"),
    "proto": frame(gue=b"\x00\x29\x00\x00"),
    "flags": frame(gue=b"\x00\x04\x80\x00"),
    "port": Ether() / IP(src="10.10.5.1", dst="10.10.5.2") / UDP(dport=6081, chksum=0) / Raw(b"\x00\x04\x00\x00" + inner),
    "frag": frame(ip={"flags": "MF"}),
    "udpsum": frame(udp={"chksum": 0x1111}),
}
for name, f in cases.items():
    wrpcap(f"{sys.argv[1]}-{name}.pcap", [f])
EOF
	run gue inner "$LAB_DIR/gue-bad-good.pcap"
	[ "$status" -eq 0 ]
	assert_eq "4500001d000100004011" "${output:0:20}" "the good frame's inner packet"
	local c
	for c in ipsum udplen version control proto flags port frag udpsum; do
		run gue inner "$LAB_DIR/gue-bad-$c.pcap"
		[ "$status" -eq 1 ] || { echo "gue.py accepted the '$c' fault: $output"; false; }
		assert_match "frame 1: " "$output" "gue.py's message for '$c'"
	done
	# The flow-hash check fails on a source port the hash does not give.
	run gue inner --sport flow "$LAB_DIR/gue-bad-good.pcap"
	[ "$status" -eq 1 ]
	assert_match "inner flow hash" "$output" "gue.py's message for a wrong source port"
}
