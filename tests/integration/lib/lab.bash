# shellcheck shell=bash
# The integration lab: network namespaces joined by veth pairs, l3afd running
# inside the appliance namespace with its own config dir and pin root, and
# collectors (nfcapd, a python IPFIX collector) in collector namespaces.
#
#   client  eth0 ──── l3a0  appliance  l3a1 ──── eth0  server
#   10.10.1.2             (forwards)              10.10.2.2
#   fd00:1::2              col0 │   │ col1        fd00:2::2
#                               │   └──── eth0 collector2 10.10.4.2 fd00:4::2
#                    collector eth0 10.10.3.2 fd00:3::2
#
#   With --analyzer, a fifth namespace for mirroring (GUE over UDP 6080):
#   appliance l3a2 10.10.5.1 fd00:5::1 ──── eth0 analyzer 10.10.5.2 fd00:5::2,
#   both ends with MTU $LAB_ANALYZER_MTU (default 9000), so that a full-size
#   1500-byte packet still fits once encapsulated (+32 bytes).
#
#   VLAN 100 on the client/appliance link: this kernel has no 8021q, so
#   there are no VLAN sub-interfaces; tagged frames between 10.10.100.2
#   (client) and 10.10.100.1 (appliance) are written with scapy on eth0 and
#   l3a0 (lib/traffic.py vlan-send), which puts the tag on the wire of l3a0.
#
# Used by the Bats files (source it from setup_file) and by scripts/demo.sh.
# Every name carries LAB_ID, so two labs never collide; lab_teardown undoes
# everything lab_setup did and is safe to call twice or after a failed setup.

LAB_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_REPO="$(cd "$LAB_LIB_DIR/../../.." && pwd)"
: "${L3AFD:=$LAB_REPO/build/src/cli/l3afd}"
# The python helpers need scapy/python3-ipfix from Debian, not a pyenv shim.
: "${LAB_PYTHON:=/usr/bin/python3}"
export L3AFD LAB_PYTHON LAB_LIB_DIR LAB_REPO

LAB_CLIENT_V4=10.10.1.2 LAB_CLIENT_V6=fd00:1::2
LAB_APPL_L3A0_V4=10.10.1.1 LAB_APPL_L3A0_V6=fd00:1::1
LAB_SERVER_V4=10.10.2.2 LAB_SERVER_V6=fd00:2::2
LAB_APPL_L3A1_V4=10.10.2.1 LAB_APPL_L3A1_V6=fd00:2::1
LAB_COLLECTOR_V4=10.10.3.2 LAB_COLLECTOR_V6=fd00:3::2
LAB_COLLECTOR2_V4=10.10.4.2 LAB_COLLECTOR2_V6=fd00:4::2
LAB_ANALYZER_V4=10.10.5.2 LAB_ANALYZER_V6=fd00:5::2
LAB_APPL_L3A2_V4=10.10.5.1 LAB_APPL_L3A2_V6=fd00:5::1
LAB_VLAN_ID=100
LAB_CLIENT_VLAN_V4=10.10.100.2 LAB_CLIENT_VLAN_V6=fd00:100::2
LAB_APPL_VLAN_V4=10.10.100.1 LAB_APPL_VLAN_V6=fd00:100::1
export LAB_CLIENT_V4 LAB_CLIENT_V6 LAB_APPL_L3A0_V4 LAB_APPL_L3A0_V6 LAB_SERVER_V4 \
	LAB_SERVER_V6 LAB_APPL_L3A1_V4 LAB_APPL_L3A1_V6 LAB_COLLECTOR_V4 LAB_COLLECTOR_V6 \
	LAB_COLLECTOR2_V4 LAB_COLLECTOR2_V6 LAB_ANALYZER_V4 LAB_ANALYZER_V6 LAB_APPL_L3A2_V4 \
	LAB_APPL_L3A2_V6 LAB_VLAN_ID LAB_CLIENT_VLAN_V4 LAB_CLIENT_VLAN_V6 \
	LAB_APPL_VLAN_V4 LAB_APPL_VLAN_V6

lab_log() { echo "lab: $*" >&2; }

# ---------------------------------------------------------------------------
# Preconditions

# lab_missing [--no-l3afd]: prints why the lab cannot run on this machine, or
# nothing when it can. Bats files skip their tests with this reason; the demo
# fails with it.
lab_missing() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "needs root (network namespaces, eBPF)"
		return
	fi
	local c m
	for c in ip ethtool tcpdump tshark nfcapd nfdump jq timeout ss mount mountpoint bpftool; do
		if ! command -v "$c" >/dev/null 2>&1; then
			echo "needs '$c' (not installed)"
			return
		fi
	done
	for m in scapy ipfix; do
		if ! "$LAB_PYTHON" -c "import $m" 2>/dev/null; then
			echo "needs python module '$m' for $LAB_PYTHON (python3-$m)"
			return
		fi
	done
	if [ "${1:-}" != --no-l3afd ] && [ ! -x "$L3AFD" ]; then
		echo "l3afd binary not found at $L3AFD (build it, or set L3AFD)"
	fi
}

# ---------------------------------------------------------------------------
# Polling: every wait is bounded.

# lab_wait_for SECONDS DESCRIPTION CMD...: runs CMD every 100ms until it
# succeeds; fails with DESCRIPTION after SECONDS.
lab_wait_for() {
	local limit=$1 what=$2
	shift 2
	local deadline=$((SECONDS + limit))
	# SECONDS has 1s resolution; count iterations too so short limits hold.
	local tries=$((limit * 10))
	while ((tries-- > 0)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		((SECONDS > deadline)) && break
		sleep 0.1
	done
	lab_log "timed out after ${limit}s waiting for: $what"
	return 1
}

# ---------------------------------------------------------------------------
# Namespaces and links

lab_ns() { ip netns exec "$@"; }
in_client() { ip netns exec "$LAB_NS_CLIENT" "$@"; }
in_appl() { ip netns exec "$LAB_NS_APPL" "$@"; }
in_server() { ip netns exec "$LAB_NS_SERVER" "$@"; }
in_collector() { ip netns exec "$LAB_NS_COLLECTOR" "$@"; }
in_collector2() { ip netns exec "$LAB_NS_COLLECTOR2" "$@"; }
in_analyzer() { ip netns exec "$LAB_NS_ANALYZER" "$@"; }

# Sysctls for a quiet IPv6 link: no DAD probes (we use nodad anyway) and no
# router solicitations, so with the permanent neighbour entries the only
# packets on the watched link are the ones a test sends (and the MLD reports
# of link-up, which stop after a couple of seconds).
_lab_ns_sysctls() {
	local ns=$1
	ip netns exec "$ns" sysctl -qw \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 >/dev/null
	ip netns exec "$ns" ip link set lo up
}

# Exact totals are compared against what a capture or a sender counts per
# packet. With TSO/GSO a sender hands 64 KiB super-packets to the veth, a
# capture sees one packet where the wire (and l3afd, which counts GSO
# segments) sees many; GRO merges in the other direction. Turning them off
# makes every packet a real MTU-sized packet, so all counters agree.
_lab_no_offloads() {
	local ns=$1 dev=$2
	ip netns exec "$ns" ethtool -K "$dev" gro off gso off tso off >/dev/null 2>&1 ||
		ip netns exec "$ns" ethtool -K "$dev" gro off gso off >/dev/null
}

# _lab_link NS_A DEV_A NS_B DEV_B: a veth pair between two namespaces.
_lab_link() {
	local nsa=$1 deva=$2 nsb=$3 devb=$4
	ip -n "$nsa" link add "$deva" type veth peer name "$devb" netns "$nsb"
	_lab_no_offloads "$nsa" "$deva"
	_lab_no_offloads "$nsb" "$devb"
	ip -n "$nsa" link set "$deva" up
	ip -n "$nsb" link set "$devb" up
}

_lab_addr() {
	local ns=$1 dev=$2 v4=$3 v6=$4
	ip -n "$ns" addr add "$v4/24" dev "$dev"
	ip -n "$ns" -6 addr add "$v6/64" dev "$dev" nodad
}

# _lab_neighbours NS_A DEV_A V4_A V6_A NS_B DEV_B V4_B V6_B: permanent
# neighbour entries on both ends of a link. No ARP and no neighbour discovery
# (nor its unreachability probes, which come at any time) ever crosses the
# link, so a test that asserts "nothing but my traffic" can.
_lab_neighbours() {
	local mac_a mac_b
	mac_a=$(ip -n "$1" -j link show "$2" | jq -r '.[0].address')
	mac_b=$(ip -n "$5" -j link show "$6" | jq -r '.[0].address')
	ip -n "$1" neigh replace "$7" lladdr "$mac_b" dev "$2" nud permanent
	ip -n "$1" neigh replace "$8" lladdr "$mac_b" dev "$2" nud permanent
	ip -n "$5" neigh replace "$3" lladdr "$mac_a" dev "$6" nud permanent
	ip -n "$5" neigh replace "$4" lladdr "$mac_a" dev "$6" nud permanent
}

# lab_setup [--collector2] [--analyzer]: builds the lab; exports LAB_* for
# the tests.
lab_setup() {
	local with_collector2=0 with_analyzer=0 opt
	for opt in "$@"; do
		case $opt in
		--collector2) with_collector2=1 ;;
		--analyzer) with_analyzer=1 ;;
		*)
			lab_log "lab_setup: unknown option '$opt'"
			return 1
			;;
		esac
	done

	# A fresh id every time (never inherited), unused by any other lab.
	LAB_ID=$(printf '%04x%04x' $(($$ & 0xffff)) $((RANDOM)))
	while ip netns list | grep -q "^l3af-$LAB_ID-"; do
		LAB_ID=$(printf '%04x%04x' $(($$ & 0xffff)) $((RANDOM)))
	done
	LAB_DIR=$(mktemp -d "/tmp/l3af-lab-$LAB_ID.XXXXXX")
	LAB_NS_CLIENT="l3af-$LAB_ID-client"
	LAB_NS_APPL="l3af-$LAB_ID-appliance"
	LAB_NS_SERVER="l3af-$LAB_ID-server"
	LAB_NS_COLLECTOR="l3af-$LAB_ID-collector"
	LAB_NS_COLLECTOR2="l3af-$LAB_ID-collector2"
	LAB_NS_ANALYZER="l3af-$LAB_ID-analyzer"
	LAB_CONF="$LAB_DIR/conf"
	# A bpf filesystem of our own: `ip netns exec` remounts /sys, hiding the
	# host's /sys/fs/bpf, but keeps other mounts. A private instance also means
	# a test can never touch /sys/fs/bpf/l3af, and unmounting it at teardown
	# drops anything a failed test left pinned.
	LAB_BPFFS="$LAB_DIR/bpffs"
	LAB_PIN_ROOT="$LAB_BPFFS/l3af-test-$LAB_ID"
	export LAB_ID LAB_DIR LAB_NS_CLIENT LAB_NS_APPL LAB_NS_SERVER LAB_NS_COLLECTOR \
		LAB_NS_COLLECTOR2 LAB_NS_ANALYZER LAB_CONF LAB_BPFFS LAB_PIN_ROOT
	echo "$with_collector2" >"$LAB_DIR/with_collector2"

	mkdir -p "$LAB_CONF" "$LAB_BPFFS" "$LAB_DIR/run"
	chmod 0755 "$LAB_CONF"
	mount -t bpf bpf "$LAB_BPFFS" || return 1

	local ns
	local all=("$LAB_NS_CLIENT" "$LAB_NS_APPL" "$LAB_NS_SERVER" "$LAB_NS_COLLECTOR")
	((with_collector2)) && all+=("$LAB_NS_COLLECTOR2")
	((with_analyzer)) && all+=("$LAB_NS_ANALYZER")
	for ns in "${all[@]}"; do
		ip netns add "$ns" || return 1
		_lab_ns_sysctls "$ns"
	done
	ip netns exec "$LAB_NS_APPL" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 >/dev/null

	_lab_link "$LAB_NS_APPL" l3a0 "$LAB_NS_CLIENT" eth0
	_lab_link "$LAB_NS_APPL" l3a1 "$LAB_NS_SERVER" eth0
	_lab_link "$LAB_NS_APPL" col0 "$LAB_NS_COLLECTOR" eth0
	_lab_addr "$LAB_NS_CLIENT" eth0 "$LAB_CLIENT_V4" "$LAB_CLIENT_V6"
	_lab_addr "$LAB_NS_APPL" l3a0 "$LAB_APPL_L3A0_V4" "$LAB_APPL_L3A0_V6"
	_lab_addr "$LAB_NS_SERVER" eth0 "$LAB_SERVER_V4" "$LAB_SERVER_V6"
	_lab_addr "$LAB_NS_APPL" l3a1 "$LAB_APPL_L3A1_V4" "$LAB_APPL_L3A1_V6"
	_lab_addr "$LAB_NS_COLLECTOR" eth0 "$LAB_COLLECTOR_V4" "$LAB_COLLECTOR_V6"
	_lab_addr "$LAB_NS_APPL" col0 10.10.3.1 fd00:3::1
	if ((with_collector2)); then
		_lab_link "$LAB_NS_APPL" col1 "$LAB_NS_COLLECTOR2" eth0
		_lab_addr "$LAB_NS_COLLECTOR2" eth0 "$LAB_COLLECTOR2_V4" "$LAB_COLLECTOR2_V6"
		_lab_addr "$LAB_NS_APPL" col1 10.10.4.1 fd00:4::1
	fi
	if ((with_analyzer)); then
		_lab_link "$LAB_NS_APPL" l3a2 "$LAB_NS_ANALYZER" eth0
		ip -n "$LAB_NS_APPL" link set l3a2 mtu "${LAB_ANALYZER_MTU:-9000}"
		ip -n "$LAB_NS_ANALYZER" link set eth0 mtu "${LAB_ANALYZER_MTU:-9000}"
		_lab_addr "$LAB_NS_ANALYZER" eth0 "$LAB_ANALYZER_V4" "$LAB_ANALYZER_V6"
		_lab_addr "$LAB_NS_APPL" l3a2 "$LAB_APPL_L3A2_V4" "$LAB_APPL_L3A2_V6"
	fi

	# Everyone reaches everyone through the appliance.
	ip -n "$LAB_NS_CLIENT" route add default via "$LAB_APPL_L3A0_V4"
	ip -n "$LAB_NS_CLIENT" -6 route add default via "$LAB_APPL_L3A0_V6"
	ip -n "$LAB_NS_SERVER" route add default via "$LAB_APPL_L3A1_V4"
	ip -n "$LAB_NS_SERVER" -6 route add default via "$LAB_APPL_L3A1_V6"
	ip -n "$LAB_NS_COLLECTOR" route add default via 10.10.3.1
	ip -n "$LAB_NS_COLLECTOR" -6 route add default via fd00:3::1
	if ((with_collector2)); then
		ip -n "$LAB_NS_COLLECTOR2" route add default via 10.10.4.1
		ip -n "$LAB_NS_COLLECTOR2" -6 route add default via fd00:4::1
	fi
	if ((with_analyzer)); then
		ip -n "$LAB_NS_ANALYZER" route add default via "$LAB_APPL_L3A2_V4"
		ip -n "$LAB_NS_ANALYZER" -6 route add default via "$LAB_APPL_L3A2_V6"
	fi

	_lab_neighbours "$LAB_NS_APPL" l3a0 "$LAB_APPL_L3A0_V4" "$LAB_APPL_L3A0_V6" \
		"$LAB_NS_CLIENT" eth0 "$LAB_CLIENT_V4" "$LAB_CLIENT_V6"
	_lab_neighbours "$LAB_NS_APPL" l3a1 "$LAB_APPL_L3A1_V4" "$LAB_APPL_L3A1_V6" \
		"$LAB_NS_SERVER" eth0 "$LAB_SERVER_V4" "$LAB_SERVER_V6"
	_lab_neighbours "$LAB_NS_APPL" col0 10.10.3.1 fd00:3::1 \
		"$LAB_NS_COLLECTOR" eth0 "$LAB_COLLECTOR_V4" "$LAB_COLLECTOR_V6"
	if ((with_collector2)); then
		_lab_neighbours "$LAB_NS_APPL" col1 10.10.4.1 fd00:4::1 \
			"$LAB_NS_COLLECTOR2" eth0 "$LAB_COLLECTOR2_V4" "$LAB_COLLECTOR2_V6"
	fi
	if ((with_analyzer)); then
		_lab_neighbours "$LAB_NS_APPL" l3a2 "$LAB_APPL_L3A2_V4" "$LAB_APPL_L3A2_V6" \
			"$LAB_NS_ANALYZER" eth0 "$LAB_ANALYZER_V4" "$LAB_ANALYZER_V6"
	fi

	LAB_L3A0_IFINDEX=$(ip -n "$LAB_NS_APPL" -j link show l3a0 | jq -r '.[0].ifindex')
	export LAB_L3A0_IFINDEX
	lab_wait_for 10 "client reaches server through the appliance" \
		in_client ping -c1 -W1 "$LAB_SERVER_V4" || return 1
	lab_wait_for 10 "client reaches server over IPv6" \
		in_client ping -6 -c1 -W1 "$LAB_SERVER_V6" || return 1
	echo "$LAB_DIR" >"$LAB_DIR/run/.lab"
}

_lab_ns_exists() { ip netns list | awk '{print $1}' | grep -qxF "$1"; }

# Stops every process the lab started (by the pids it recorded), resets l3afd,
# removes the namespaces and the bpf filesystem.
lab_teardown() {
	[ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ] || return 0
	lab_stop_all
	if _lab_ns_exists "$LAB_NS_APPL"; then
		_l3afd_reset_lab || true
	fi
	local ns pids
	for ns in "$LAB_NS_CLIENT" "$LAB_NS_APPL" "$LAB_NS_SERVER" "$LAB_NS_COLLECTOR" \
		"$LAB_NS_COLLECTOR2" "$LAB_NS_ANALYZER"; do
		if _lab_ns_exists "$ns"; then
			# Anything still inside our own namespaces was started by us.
			pids=$(ip netns pids "$ns" 2>/dev/null) || true
			# shellcheck disable=SC2086 # a list of pids
			[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
	if mountpoint -q "$LAB_BPFFS" 2>/dev/null; then
		umount "$LAB_BPFFS" || umount -l "$LAB_BPFFS"
	fi
	if [ -z "${LAB_KEEP:-}" ]; then
		rm -rf "$LAB_DIR"
	else
		lab_log "kept $LAB_DIR (LAB_KEEP set)"
	fi
}

# ---------------------------------------------------------------------------
# Background processes. lab_spawn NAME NS CMD... runs CMD inside NS with its
# output in $LAB_DIR/NAME.log; its pid lands in run/NAME.pid and, once it
# exits, its exit status in run/NAME.rc. The file descriptors Bats watches
# (stdout, stderr, 3) are closed so Bats never waits on our children.

lab_spawn() {
	local name=$1 ns=$2
	shift 2
	local pidf="$LAB_DIR/run/$name.pid" rcf="$LAB_DIR/run/$name.rc"
	rm -f "$pidf" "$rcf"
	(
		# Bats runs with errexit, which the subshell inherits: a non-zero
		# status (a process killed by lab_stop) must still reach the rc file,
		# or lab_stop waits out its timeout for nothing.
		set +e
		ip netns exec "$ns" "$@" </dev/null &
		echo $! >"$pidf"
		wait $!
		echo $? >"$rcf"
	) >"$LAB_DIR/$name.log" 2>&1 3>&- &
	lab_wait_for 5 "$name to start" test -s "$pidf"
}

lab_pid() { cat "$LAB_DIR/run/$1.pid" 2>/dev/null; }

lab_running() {
	local name=$1
	[ -s "$LAB_DIR/run/$name.pid" ] && [ ! -e "$LAB_DIR/run/$name.rc" ]
}

# lab_stop NAME [SIGNAL] [TIMEOUT]: signals the process and waits for it to
# exit; prints and returns its exit status (KILL after the timeout: 137).
lab_stop() {
	local name=$1 sig=${2:-TERM} limit=${3:-10}
	local pidf="$LAB_DIR/run/$name.pid" rcf="$LAB_DIR/run/$name.rc"
	[ -s "$pidf" ] || return 0
	local pid
	pid=$(cat "$pidf")
	if [ ! -e "$rcf" ]; then
		kill "-$sig" "$pid" 2>/dev/null || true
		if ! lab_wait_for "$limit" "$name (pid $pid) to exit after SIG$sig" test -e "$rcf"; then
			kill -KILL "$pid" 2>/dev/null || true
			lab_wait_for 5 "$name to die" test -e "$rcf" || true
		fi
	fi
	local rc
	rc=$(cat "$rcf" 2>/dev/null || echo 255)
	rm -f "$pidf"
	echo "$rc"
	return "$rc"
}

# Stops every process lab_spawn started that is still running (KILL, no
# grace: for teardown).
lab_stop_all() {
	local f
	for f in "$LAB_DIR"/run/*.pid; do
		[ -e "$f" ] || continue
		lab_stop "$(basename "$f" .pid)" KILL 5 >/dev/null 2>&1 || true
	done
	return 0
}

# ---------------------------------------------------------------------------
# l3afd

l3afd_cmd() { in_appl "$L3AFD" "$@" -c "$LAB_CONF"; }

# The [daemon] table every lab config starts with; removes any other file a
# previous test left in the config dir.
l3afd_config_daemon() {
	rm -f "$LAB_CONF"/*.toml
	cat >"$LAB_CONF/00-daemon.toml" <<EOF
[daemon]
pin_root = "$LAB_PIN_ROOT"
metrics = ""
log_level = "debug"
EOF
}

# l3afd_config_collector NAME ADDRESS PORT [TRANSPORT] [extra TOML lines...]
l3afd_config_collector() {
	local name=$1 addr=$2 port=$3 transport=${4:-udp}
	shift 4 2>/dev/null || shift $#
	{
		echo "[[collector]]"
		echo "name = \"$name\""
		echo "address = \"$addr\""
		echo "port = $port"
		echo "transport = \"$transport\""
		echo "observation_domain = 7"
		echo "template_refresh = \"10s\""
		local line
		for line in "$@"; do echo "$line"; done
	} >"$LAB_CONF/10-collector-$name.toml"
}

# l3afd_config_exporter NAME COLLECTORS [extra TOML lines...]: watches l3a0 in
# both directions with short timers; extra lines override keys (later keys
# would be duplicates in TOML, so pass only keys not set here, or use
# L3AF_EXPORTER_* variables for the ones set here).
l3afd_config_exporter() {
	local name=$1 collectors=$2
	shift 2
	{
		echo "[[flow_exporter]]"
		echo "name = \"$name\""
		echo "interfaces = [\"${L3AF_EXPORTER_INTERFACE:-l3a0}\"]"
		echo "direction = \"${L3AF_EXPORTER_DIRECTION:-both}\""
		echo "collectors = [$collectors]"
		echo "poll_interval = \"${L3AF_EXPORTER_POLL:-200ms}\""
		echo "active_timeout = \"${L3AF_EXPORTER_ACTIVE:-30s}\""
		echo "idle_timeout = \"${L3AF_EXPORTER_IDLE:-1s}\""
		echo "max_flows = ${L3AF_EXPORTER_MAX_FLOWS:-4096}"
		local line
		for line in "$@"; do echo "$line"; done
	} >"$LAB_CONF/20-exporter-$name.toml"
}

# l3afd_config_tunnel NAME [extra TOML lines...]: a GUE tunnel to the
# analyzer out of l3a2 (lab_setup --analyzer); L3AF_TUNNEL_REMOTE and
# L3AF_TUNNEL_DEVICE override those two keys, extra lines add others.
l3afd_config_tunnel() {
	local name=$1
	shift
	{
		echo "[[tunnel]]"
		echo "name = \"$name\""
		echo "remote = \"${L3AF_TUNNEL_REMOTE:-$LAB_ANALYZER_V4}\""
		echo "device = \"${L3AF_TUNNEL_DEVICE:-l3a2}\""
		local line
		for line in "$@"; do echo "$line"; done
	} >"$LAB_CONF/30-tunnel-$name.toml"
}

# l3afd_config_mirror NAME TUNNEL SNAPLEN [TOML lines...]: a mirror of l3a0
# in both directions; the lines that follow are its rules, e.g.
#   '[[mirror.rule]]' 'protocol = "icmp"'
l3afd_config_mirror() {
	local name=$1 tunnel=$2 snaplen=$3
	shift 3
	{
		echo "[[mirror]]"
		echo "name = \"$name\""
		echo "interface = \"${L3AF_MIRROR_INTERFACE:-l3a0}\""
		echo "direction = \"${L3AF_MIRROR_DIRECTION:-both}\""
		echo "tunnel = \"$tunnel\""
		echo "snaplen = $snaplen"
		local line
		for line in "$@"; do echo "$line"; done
	} >"$LAB_CONF/40-mirror-$name.toml"
}

l3afd_status_json() { l3afd_cmd status --json; }

# l3afd_jq FILTER: a value from `l3afd status --json`.
l3afd_jq() { l3afd_status_json | jq -r "$1"; }

# The daemon runs, has applied its configuration once, has nothing pending (a
# mirror waits for its tunnel's device in a first round) and every attachment
# of every function is attached.
_l3afd_all_attached() {
	local json
	json=$(l3afd_status_json) || return 1
	jq -e '.daemon.running == true and .daemon.last_reload != null and
		((.daemon.pending // []) | length == 0) and
		([.flow_exporters[], .mirrors[]?, .tunnels[]?, .programs[]? | .attachments[]] | length > 0) and
		all(.flow_exporters[], .mirrors[]?, .tunnels[]?, .programs[]? | .attachments[]; .state == "attached")' <<<"$json"
}

# Starts `l3afd run` in the appliance namespace and waits until every
# attachment is attached.
l3afd_start() {
	lab_spawn l3afd "$LAB_NS_APPL" "$L3AFD" run -c "$LAB_CONF" || return 1
	if ! lab_wait_for 15 "l3afd to attach its functions" _l3afd_all_attached; then
		l3afd_logs
		return 1
	fi
}

# l3afd_stop [SIGNAL]: prints and returns the daemon's exit status.
l3afd_stop() { lab_stop l3afd "${1:-TERM}" 15; }

l3afd_logs() {
	echo "---- l3afd log ($LAB_DIR/l3afd.log) ----"
	tail -n 60 "$LAB_DIR/l3afd.log" 2>/dev/null
	echo "----"
}

# Stops the daemon (if running) and removes everything it pinned, so the next
# test starts from an empty flow table.
l3afd_stop_and_reset() {
	if lab_running l3afd; then
		l3afd_stop KILL >/dev/null || true
	fi
	_l3afd_reset_lab || true
	return 0
}

# Resets the lab's pin root with a config dir of its own holding only the
# [daemon] table: a test may have left a broken file in LAB_CONF, and without
# the [daemon] table l3afd would fall back to the default /sys/fs/bpf/l3af.
_l3afd_reset_lab() {
	[ -x "$L3AFD" ] || return 0
	local dir="$LAB_DIR/reset-conf"
	mkdir -p "$dir"
	chmod 0755 "$dir"
	printf '[daemon]\npin_root = "%s"\nmetrics = ""\n' "$LAB_PIN_ROOT" >"$dir/00-daemon.toml"
	in_appl "$L3AFD" reset -c "$dir" >>"$LAB_DIR/reset.log" 2>&1
}

# Objects (not directories) l3afd left under the lab's pin root.
lab_pinned_objects() {
	find "$LAB_PIN_ROOT" -mindepth 1 -not -type d 2>/dev/null
}

# ---------------------------------------------------------------------------
# Collectors

# nfcapd_start NAME NS ADDRESS PORT: nfcapd writing to $LAB_DIR/nfcapd-NAME.
nfcapd_start() {
	local name=$1 ns=$2 addr=$3 port=$4
	local dir="$LAB_DIR/nfcapd-$name"
	rm -rf "$dir"
	mkdir -p "$dir"
	local fam=-4
	[[ $addr == *:* ]] && fam=-6
	# -t 3600: one file for the whole test; it is closed when nfcapd stops.
	lab_spawn "nfcapd-$name" "$ns" nfcapd "$fam" -w "$dir" -b "$addr" -p "$port" -t 3600 || return 1
	lab_wait_for 10 "nfcapd $name listening on $addr:$port" \
		_lab_udp_listening "$ns" "$port" "$(lab_pid "nfcapd-$name")"
}

# _lab_*_listening NS PORT PID: PID (not some leftover) has the socket.
_lab_udp_listening() { ip netns exec "$1" ss -Hlunp "sport = :$2" | grep -q "pid=$3,"; }
_lab_tcp_listening() { ip netns exec "$1" ss -Hltnp "sport = :$2" | grep -q "pid=$3,"; }

# Stops nfcapd so its file is complete and renamed.
nfcapd_stop() { lab_stop "nfcapd-$1" TERM 10 >/dev/null; }

# nfdump_json NAME [FILTER]: every record nfcapd NAME stored, as one JSON array.
nfdump_json() {
	local name=$1
	shift
	local out
	out=$(nfdump -R "$LAB_DIR/nfcapd-$name" -o json "$@" 2>/dev/null) || return 1
	# An empty result prints nothing; make it an empty array.
	[ -n "$out" ] || out='[]'
	printf '%s\n' "$out"
}

# ipfix_collector_start NAME NS ADDRESS PORT TRANSPORT: the python collector
# (lib/ipfix_collector.py) appending decoded records to $LAB_DIR/NAME.jsonl.
ipfix_collector_start() {
	local name=$1 ns=$2 addr=$3 port=$4 transport=$5
	rm -f "$LAB_DIR/$name.jsonl"
	lab_spawn "$name" "$ns" "$LAB_PYTHON" -u "$LAB_LIB_DIR/ipfix_collector.py" \
		--transport "$transport" --bind "$addr" --port "$port" \
		--out "$LAB_DIR/$name.jsonl" || return 1
	local pid
	pid=$(lab_pid "$name")
	if [ "$transport" = tcp ]; then
		lab_wait_for 10 "collector $name listening" _lab_tcp_listening "$ns" "$port" "$pid"
	else
		lab_wait_for 10 "collector $name listening" _lab_udp_listening "$ns" "$port" "$pid"
	fi
}

# ---------------------------------------------------------------------------
# Captures: tcpdump in a namespace, written to $LAB_DIR/NAME.pcap.

# capture_start NAME NS IFACE [FILTER...]
capture_start() {
	local name=$1 ns=$2 dev=$3
	shift 3
	local pcap="$LAB_DIR/$name.pcap"
	rm -f "$pcap"
	# --immediate-mode: without it packets wait in the capture ring until a
	# block fills or times out, and stopping tcpdump loses them.
	lab_spawn "capture-$name" "$ns" tcpdump -n -U --immediate-mode -s 0 -i "$dev" -w "$pcap" "$@" ||
		return 1
	lab_wait_for 10 "tcpdump $name to listen" grep -q "listening on" "$LAB_DIR/capture-$name.log"
}

_lab_file_stable() {
	local f=$1 a b
	a=$(stat -c %s "$f" 2>/dev/null)
	sleep 0.2
	b=$(stat -c %s "$f" 2>/dev/null)
	[ "$a" = "$b" ]
}

# capture_stop NAME: stops tcpdump once its file stopped growing, and checks
# that every packet the filter accepted was written and none was dropped.
capture_stop() {
	local name=$1
	local log="$LAB_DIR/capture-$name.log"
	lab_wait_for 10 "capture $name to settle" _lab_file_stable "$(capture_file "$name")"
	lab_stop "capture-$name" INT 10 >/dev/null
	local captured received
	captured=$(sed -n 's/^\([0-9]*\) packets\? captured$/\1/p' "$log")
	received=$(sed -n 's/^\([0-9]*\) packets\? received by filter$/\1/p' "$log")
	if ! grep -q "^0 packets dropped by kernel" "$log" || [ "$captured" != "$received" ]; then
		lab_log "capture $name lost packets:"
		cat "$log" >&2
		return 1
	fi
}

capture_file() { echo "$LAB_DIR/$1.pcap"; }

# ---------------------------------------------------------------------------
# Flow arithmetic (lib/flows.py).

flows() { "$LAB_PYTHON" "$LAB_LIB_DIR/flows.py" "$@"; }
traffic() { "$LAB_PYTHON" "$LAB_LIB_DIR/traffic.py" "$@"; }
gue() { "$LAB_PYTHON" "$LAB_LIB_DIR/gue.py" "$@"; }

# lab_wait_quiet NS IFACE QUIET_S LIMIT_S: waits until no IP packet crossed
# IFACE for QUIET_S seconds (the link-up chatter of IPv6 is over).
lab_wait_quiet() {
	local ns=$1 dev=$2 quiet=$3 limit=$4
	local deadline=$((SECONDS + limit))
	while ((SECONDS <= deadline)); do
		# timeout exits 124 when tcpdump saw nothing for $quiet seconds.
		local rc=0
		ip netns exec "$ns" timeout "$quiet" tcpdump -n -c 1 -i "$dev" 'ip or ip6' >/dev/null 2>&1 || rc=$?
		[ "$rc" -eq 124 ] && return 0
	done
	lab_log "$dev never went quiet for ${quiet}s within ${limit}s"
	return 1
}
