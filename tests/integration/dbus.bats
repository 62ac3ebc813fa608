#!/usr/bin/env bats
# l3afd on D-Bus, on a dbus-daemon of the test's own (L3AF_BUS_ADDRESS points
# the daemon and the CLI at it): `l3afd status` prints the running daemon's
# Status() reply, and `l3afd reload` waits for the daemon's verdict.

load lib/common

setup_file() {
	if ! command -v dbus-daemon >/dev/null 2>&1 || ! command -v busctl >/dev/null 2>&1; then
		export LAB_SKIP="needs dbus-daemon and busctl (Debian: dbus-daemon, systemd)"
		return 0
	fi
	suite_setup_file
}
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	bus_start
	l3afd_config_daemon
	l3afd_config_collector soc "$LAB_COLLECTOR_V4" 4739 udp
	l3afd_config_exporter edge '"soc"'
}
teardown() { suite_teardown; }

# A bus where anyone may own and call anything, for this test only; the
# per-test teardown stops it with everything else the test started.
bus_start() {
	mkdir -p "$LAB_DIR/bus"
	rm -f "$LAB_DIR/bus/socket"
	cat >"$LAB_DIR/bus/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$LAB_DIR/bus/socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
	lab_spawn dbus "$LAB_NS_APPL" dbus-daemon --config-file="$LAB_DIR/bus/bus.conf" --nofork
	lab_wait_for 10 "dbus-daemon to listen" test -S "$LAB_DIR/bus/socket"
	export L3AF_BUS_ADDRESS="unix:path=$LAB_DIR/bus/socket"
}

bus() { busctl --address="$L3AF_BUS_ADDRESS" "$@"; }

# The name the lab's daemon owns: org.l3af.l3afd.<instance> for a config
# directory other than /etc/l3af.
l3afd_bus_name() {
	bus --json=short call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
		ListNames | jq -er '.data[0][] | select(startswith("org.l3af.l3afd"))'
}

# Status() as busctl receives it, and `l3afd status --json`, agree on all
# but what moves between two snapshots (the clock, the poll count).
status_is_bus_reply() {
	local reply cli norm='del(.daemon.updated) | del(.flow_exporters[].polls)'
	reply=$(bus --json=short call "$1" /org/l3af/l3afd org.l3af.l3afd1 Status |
		jq -r '.data[0]') || return 1
	cli=$(l3afd_status_json) || return 1
	echo "$reply" >"$LAB_DIR/status.bus.json"
	echo "$cli" >"$LAB_DIR/status.cli.json"
	[ "$(jq -S "$norm" <<<"$reply")" = "$(jq -S "$norm" <<<"$cli")" ]
}

@test "status --json prints the daemon's Status() reply" {
	l3afd_start
	local name
	name=$(l3afd_bus_name)
	[[ $name == org.l3af.l3afd.instance-* ]]
	if ! lab_wait_for 10 "status --json to equal Status()" status_is_bus_reply "$name"; then
		diff <(jq -S . "$LAB_DIR/status.bus.json") <(jq -S . "$LAB_DIR/status.cli.json")
		false
	fi
	jq -e --arg conf "$LAB_CONF" '.config_dir == $conf and .daemon.running == true and
		(.flow_exporters[0].attachments | length == 2)' "$LAB_DIR/status.bus.json"
}

# Without the bus, status reads the daemon's pid file; with it, it needs none.
@test "status asks the daemon over D-Bus, not its pid file" {
	l3afd_start
	local pid pidfile="" f
	pid=$(lab_pid l3afd)
	for f in /run/l3af/pid /run/l3af/*/pid; do
		[ "$(cat "$f" 2>/dev/null)" != "$pid" ] || pidfile=$f
	done
	[ -n "$pidfile" ]
	mv "$pidfile" "$pidfile.away"
	run l3afd_cmd status --json
	mv "$pidfile.away" "$pidfile"
	[ "$status" -eq 0 ]
	assert_eq "true $pid" "$(jq -r '"\(.daemon.running) \(.daemon.pid)"' <<<"$output")" \
		"daemon running, pid (status --json)"

	mv "$pidfile" "$pidfile.away"
	run l3afd_cmd status
	mv "$pidfile.away" "$pidfile"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"daemon:  running (pid $pid)"* ]]
}

@test "reload over D-Bus returns once applied, or with the files' diagnostics" {
	l3afd_start
	run l3afd_cmd reload
	echo "$output"
	[ "$status" -eq 0 ]
	assert_eq "reloaded" "$output" "reload over D-Bus"

	printf '[[collector]]\nname = "b"\nadress = "10.10.3.2"\n' >"$LAB_CONF/50-bad.toml"
	run l3afd_cmd reload
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *50-bad.toml:3:* ]]
	l3afd_jq .daemon.last_error | grep -q '50-bad.toml:3:'
}

@test "an interface that appears later is attached, and the bus hears Reconciled" {
	L3AF_EXPORTER_INTERFACE=l3z0 l3afd_config_exporter late '"soc"'
	lab_spawn l3afd "$LAB_NS_APPL" "$L3AFD" run -c "$LAB_CONF"
	pending() { l3afd_status_json | jq -e '.daemon.pending | length > 0' >/dev/null; }
	lab_wait_for 15 "l3afd to apply, with l3z0 pending" pending
	bus monitor --json=short --match="type='signal',member='Reconciled'" >"$LAB_DIR/signals" 2>&1 &
	local monitor=$!
	sleep 0.5
	in_appl ip link add l3z0 type veth peer name l3z1
	reconciled() { grep -q '"member":"Reconciled"' "$LAB_DIR/signals"; }
	lab_wait_for 10 "a Reconciled signal after l3z0 appeared" reconciled
	kill "$monitor" 2>/dev/null || true
	wait "$monitor" 2>/dev/null || true
	cat "$LAB_DIR/signals"
	grep '"member":"Reconciled"' "$LAB_DIR/signals" | head -n1 | jq -e '.payload.data[0] == true'
	l3afd_jq '.flow_exporters[] | select(.name == "late") | .attachments[].interface' | grep -q l3z0
	in_appl ip link del l3z0
}
