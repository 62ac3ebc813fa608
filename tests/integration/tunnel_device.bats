#!/usr/bin/env bats
# The veth pair behind a tunnel (l3t-<name>/l3p-<name>): the device the
# mirror clones into transmits no offloaded work. Every transmit checksum and
# segmentation offload of l3t-<name> is off, whatever the kernel calls it,
# including those the legacy ethtool commands do not reach (tx-gso-list,
# tx-gre-segmentation, tx-udp_tnl-segmentation, tx-sctp-segmentation, and on
# 6.18 tx-tcp-accecn-segmentation). Ground truth is the ethtool command.

load lib/common

setup_file() { suite_setup_file --analyzer; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	l3afd_config_daemon
}
teardown() {
	[ -z "${LAB_SKIP:-}" ] || return 0
	ip -n "$LAB_NS_APPL" link del t3b-fresh 2>/dev/null || true
	suite_teardown
}

# tx_offloads_on DEV: the transmit checksum and segmentation features of DEV
# in the appliance that are on, one per line: the individual features and
# ethtool's summary lines (tx-checksumming, tcp-segmentation-offload,
# generic-segmentation-offload).
tx_offloads_on() {
	in_appl ethtool -k "$1" | sed -n -E \
		's/^[[:space:]]*(tx-[^:]*segmentation|tx-checksum[^:]*|tx-gso[^:]*|tcp-segmentation-offload|generic-segmentation-offload): on.*/\1/p'
}

@test "a fresh veth has transmit segmentation offloads on (what the next test turns off)" {
	ip -n "$LAB_NS_APPL" link add t3b-fresh type veth peer name t3b-fresh-p
	local on
	on=$(tx_offloads_on t3b-fresh)
	assert_match 'tx-tcp-segmentation' "$on" "TSO of a fresh veth"
	assert_match 'tx-gso-list' "$on" "GSO fraglist of a fresh veth"
	assert_match 'tx-udp_tnl-segmentation' "$on" "UDP tunnel segmentation of a fresh veth"
}

@test "the tunnel device l3afd creates has every transmit checksum and segmentation offload off" {
	l3afd_config_tunnel ana
	l3afd_config_mirror m ana 0 '[[mirror.rule]]' 'dst = "198.51.100.0/24"'
	l3afd_start
	# The listing is not empty: the features are there, and off.
	local listed
	listed=$(in_appl ethtool -k l3t-ana | grep -cE '^[[:space:]]*tx-[^:]*segmentation:')
	assert_ge 5 "$listed" "tx-*segmentation features listed for l3t-ana"
	assert_eq "" "$(tx_offloads_on l3t-ana | tr '\n' ' ')" "offloads still on on l3t-ana"
}
