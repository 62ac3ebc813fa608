#!/bin/bash
# The flow-export demo: a lab of network namespaces with an appliance between
# a client and a server, l3afd in the appliance exporting IPFIX from l3a0 to
# nfcapd in a collector namespace, known traffic, and what nfcapd stored,
# printed by nfdump. Everything is removed at the end, whatever happens.
#
#   sudo scripts/demo.sh
#
# Sets up the machine (scripts/setup.sh) and builds (scripts/build.sh) first,
# unless L3AFD names a binary to use instead.
# Exits non-zero if no flow reached the collector.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${L3AFD:-}" ]; then
	bash "$repo/scripts/setup.sh" >&2
	bash "$repo/scripts/build.sh" >&2
fi
export L3AFD="${L3AFD:-$repo/build/src/cli/l3afd}"
# shellcheck source=../tests/integration/lib/lab.bash
source "$repo/tests/integration/lib/lab.bash"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

missing=$(lab_missing)
[ -z "$missing" ] || die "cannot run: $missing"

trap 'set +e; lab_teardown' EXIT
# An interrupted demo still cleans up (the EXIT trap runs on the way out).
trap 'exit 130' INT TERM

step "Lab: client -- l3a0 [appliance] l3a1 -- server; appliance col0 -- collector"
lab_setup || die "could not build the lab"
cat <<EOF
  client     $LAB_CLIENT_V4  $LAB_CLIENT_V6    (namespace $LAB_NS_CLIENT)
  server     $LAB_SERVER_V4  $LAB_SERVER_V6    (namespace $LAB_NS_SERVER)
  collector  $LAB_COLLECTOR_V4  udp/4739, nfcapd   (namespace $LAB_NS_COLLECTOR)
  appliance  forwards between them; l3afd watches l3a0 (ifindex $LAB_L3A0_IFINDEX), both directions
EOF

step "Configuration ($LAB_CONF)"
l3afd_config_daemon
l3afd_config_collector nfcapd "$LAB_COLLECTOR_V4" 4739 udp
l3afd_config_exporter edge '"nfcapd"'
for f in "$LAB_CONF"/*.toml; do
	echo "# $(basename "$f")"
	sed 's/^/  /' "$f"
done
l3afd_cmd check

step "Collector: nfcapd in the collector namespace"
nfcapd_start main "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4739 || die "nfcapd did not start"
echo "  nfcapd listening on $LAB_COLLECTOR_V4:4739, writing to $LAB_DIR/nfcapd-main"

step "l3afd run (in the appliance namespace)"
lab_spawn usink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" udp-sink \
	--bind :: --ports 5001-5002
lab_spawn tsink "$LAB_NS_SERVER" "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" tcp-sink \
	--bind :: --port 5201
l3afd_start || die "l3afd did not attach (log above)"
l3afd_cmd status

step "Traffic from the client to the server"
traffic() { in_client "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" "$@"; }
in_client ping -q -c 5 -i 0.2 "$LAB_SERVER_V4" | sed -n 's/^/  /;/packets transmitted/p'
in_client ping -q -6 -c 5 -i 0.2 "$LAB_SERVER_V6" | sed -n 's/^/  /;/packets transmitted/p'
udp4=$(traffic udp-send --dst "$LAB_SERVER_V4" --port 5001 --sport 40001 --sizes 100,500,1000 --repeat 3)
udp6=$(traffic udp-send --dst "$LAB_SERVER_V6" --port 5002 --sport 40002 --sizes 100,500,1000 --repeat 2)
traffic tcp-send --dst "$LAB_SERVER_V4" --port 5201 --sport 40003 --bytes 1000000 >/dev/null
cat <<EOF
  ping  $LAB_CLIENT_V4 -> $LAB_SERVER_V4   5 requests, 5 replies of 84 bytes
  ping  $LAB_CLIENT_V6 -> $LAB_SERVER_V6   5 requests, 5 replies of 104 bytes
  UDP   $LAB_CLIENT_V4:40001 -> :5001      packets/bytes: $udp4
  UDP   [$LAB_CLIENT_V6]:40002 -> :5002    packets/bytes: $udp6
  TCP   $LAB_CLIENT_V4:40003 -> :5201      1000000 bytes of payload
EOF

step "Waiting for the flows to expire (idle timeout 1s), then stopping l3afd"
_flows_gone() { l3afd_status_json | jq -e '.flow_exporters[0].flows_active == 0'; }
lab_wait_for 15 "the flow table to empty" _flows_gone || true
l3afd_cmd status
rc=$(l3afd_stop TERM) || true
echo "  l3afd exited with status $rc after SIGTERM (remaining flows exported, programs left attached)"
nfcapd_stop main

step "What the collector received (nfdump)"
fmt="fmt:%ts %td %pr %sap -> %dap %pkt %byt %in %out %svln"
nfdump -R "$LAB_DIR/nfcapd-main" -N -O tstart -o "$fmt" || true
echo
nfdump -R "$LAB_DIR/nfcapd-main" -I | grep -E '^(Flows|Packets|Bytes|Sequence failures):' | sed 's/^/  /'

flows=$(nfdump -R "$LAB_DIR/nfcapd-main" -I 2>/dev/null | sed -n 's/^Flows: //p')
if [ -z "$flows" ] || [ "$flows" -eq 0 ]; then
	echo
	tail -n 30 "$LAB_DIR/l3afd.log" >&2
	die "no flow reached the collector"
fi
step "Done: $flows flow records at the collector; removing the lab"
