#!/usr/bin/env bats
# Bad input while the daemon runs: a broken file in the config dir and SIGHUP
# must change nothing that runs. The whole new desired state is rejected, the
# error (file:line:column) is shown by status, the exporter keeps exporting
# with the same kernel links. A good reload afterwards clears the error.

load lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	l3afd_config_daemon
	l3afd_config_collector py "$LAB_COLLECTOR_V4" 4739 udp
	l3afd_config_exporter edge '"py"'
	ipfix_collector_start py "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4739 udp
	l3afd_start
	J="$LAB_DIR/py.jsonl"
}
teardown() { suite_teardown; }

last_error_set() { l3afd_status_json | jq -e '.daemon.last_error != null'; }
last_error_clear() { l3afd_status_json | jq -e '.daemon.last_error == null'; }
sighup() { kill -HUP "$(lab_pid l3afd)"; }

# still_exporting N: N new pings from client to server arrive, exactly.
still_exporting() {
	local before after
	before=$(totals --jsonl "$J" --src "$LAB_SERVER_V4" --proto 1)
	in_client ping -q -c "$1" -i 0.2 "$LAB_SERVER_V4" >/dev/null
	lab_wait_for 10 "the new pings' records" jsonl_packets_reach py $((${before%% *} + $1)) \
		--src "$LAB_SERVER_V4" --proto 1
	after=$(totals --jsonl "$J" --src "$LAB_SERVER_V4" --proto 1)
	assert_eq "$((${before%% *} + $1)) $((${before#* } + $1 * 84))" "$after" "reply flow totals"
}

@test "a TOML syntax error + SIGHUP: rejected, status shows file:line:col, export goes on, same links" {
	local links kernel pid
	links=$(l3afd_link_ids)
	kernel=$(tcx_link_ids l3a0)
	pid=$(l3afd_jq .daemon.pid)
	printf '%s\n' '# written by a test: line 3 is not TOML' '[[collector]]' 'name = "broken' \
		>"$LAB_CONF/30-broken.toml"
	sighup
	lab_wait_for 10 "status to show the error" last_error_set
	local err
	err=$(l3afd_jq .daemon.last_error)
	assert_match "(^|"$'\n'")$LAB_CONF/30-broken.toml:3:[0-9]+: error: " "$err" "daemon.last_error"
	assert_eq "true $pid" "$(l3afd_jq '"\(.daemon.running) \(.daemon.pid)"')" "daemon still running, same pid"
	assert_eq "$kernel" "$(tcx_link_ids l3a0)" "kernel TCX links on l3a0 after the rejected reload"
	still_exporting 3
	grep -q "30-broken.toml:3:" "$LAB_DIR/l3afd.log" # logged, too
	# status shows what runs, not what the rejected files say.
	assert_eq "$LAB_PIN_ROOT" "$(l3afd_jq .pin_root)" "status: pin_root after the rejected reload"
	assert_eq "$links" "$(l3afd_link_ids)" "status: link ids after the rejected reload"
}

@test "an unknown key next to a real change + SIGHUP: the change is not applied either" {
	local links kernel
	links=$(l3afd_link_ids)
	kernel=$(tcx_link_ids l3a0)
	# A valid change (watch l3a1 as well) and a broken file: all or nothing.
	sed -i 's/^interfaces = .*/interfaces = ["l3a0", "l3a1"]/' "$LAB_CONF/20-exporter-edge.toml"
	printf '%s\n' '[[collector]]' 'name = "typo"' 'adress = "10.10.3.2"' >"$LAB_CONF/30-typo.toml"
	sighup
	lab_wait_for 10 "status to show the error" last_error_set
	assert_match "(^|"$'\n'")$LAB_CONF/30-typo.toml:3:1: error: [^"$'\n'"]*adress" \
		"$(l3afd_jq .daemon.last_error)" "daemon.last_error"
	assert_eq "$kernel" "$(tcx_link_ids l3a0)" "kernel TCX links on l3a0"
	assert_eq "" "$(tcx_link_ids l3a1)" "kernel TCX links on l3a1 (the change must not apply)"
	still_exporting 2
	assert_eq "$links" "$(l3afd_link_ids)" "status: attachments after the rejected reload"
}

@test "fixing the config and SIGHUP again: the error clears and the new state applies" {
	printf '%s\n' '[[collector]]' 'name = "broken' >"$LAB_CONF/30-broken.toml"
	sighup
	lab_wait_for 10 "status to show the error" last_error_set
	rm "$LAB_CONF/30-broken.toml"
	sed -i 's/^interfaces = .*/interfaces = ["l3a0", "l3a1"]/' "$LAB_CONF/20-exporter-edge.toml"
	sighup
	lab_wait_for 10 "the error to clear" last_error_clear
	lab_wait_for 10 "l3a1 to be attached" _l3afd_all_attached
	assert_match "l3a1@tc-ingress=[0-9]+" "$(l3afd_link_ids)" "attachments after the good reload"
	assert_match "^tcx/egress=[0-9]+ tcx/ingress=[0-9]+$" "$(tcx_link_ids l3a1)" "TCX links on l3a1"
}
