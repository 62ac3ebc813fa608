#!/usr/bin/env bats
# plan / apply / status / reset against the kernel: apply is idempotent, plan
# says what apply would do, reset removes what l3afd pinned and nothing else.

load lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	l3afd_config_daemon
	l3afd_config_collector soc "$LAB_COLLECTOR_V4" 4739 udp
	l3afd_config_exporter edge '"soc"'
}
teardown() { suite_teardown; }

@test "plan lists the actions, apply performs them, then plan has nothing to do" {
	run l3afd_cmd plan
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *l3a0* ]]
	[[ $output != "nothing to do" ]]

	run l3afd_cmd apply
	echo "$output"
	[ "$status" -eq 0 ]
	assert_match "^tcx/egress=[0-9]+ tcx/ingress=[0-9]+$" "$(tcx_link_ids l3a0)" "TCX links after apply"

	run l3afd_cmd plan
	echo "$output"
	[ "$status" -eq 0 ]
	assert_eq "nothing to do" "$output" "plan after apply"
}

@test "apply twice: the second run changes nothing, links stay the same" {
	l3afd_cmd apply
	local links
	links=$(tcx_link_ids l3a0)
	run l3afd_cmd apply
	[ "$status" -eq 0 ]
	assert_eq "$links" "$(tcx_link_ids l3a0)" "TCX links after a second apply"
}

@test "status --json has the documented shape" {
	l3afd_start
	local s
	s=$(l3afd_status_json)
	jq -e --arg conf "$LAB_CONF" --arg pins "$LAB_PIN_ROOT" '
		.config_dir == $conf and .pin_root == $pins and
		.daemon.running == true and (.daemon.pid | type == "number") and .daemon.last_error == null and
		(.flow_exporters | length == 1) and
		(.flow_exporters[0] | .name == "edge" and .max_flows == 4096 and (.flows_active | type == "number") and
			(.records_exported | type == "number") and
			([.overflow, .non_ip, .truncated][] | (.packets | type == "number") and (.octets | type == "number")) and
			([.attachments[] | "\(.interface) \(.hook) \(.state)"] | sort ==
				["l3a0 tc-egress attached", "l3a0 tc-ingress attached"]) and
			all(.attachments[]; .link_id | type == "number")) and
		(.collectors | length == 1) and
		(.collectors[0] | .name == "soc" and .transport == "udp" and .address == "10.10.3.2" and .port == 4739 and
			(.connected | type == "boolean") and
			all(.records_sent, .messages_sent, .bytes_sent, .send_errors, .records_dropped; type == "number"))
	' <<<"$s" || {
		echo "$s"
		false
	}
	# The link ids are the kernel's.
	assert_eq "$(tcx_link_ids l3a0)" \
		"$(jq -r '[.flow_exporters[0].attachments[] | "tcx/\(.hook | sub("tc-"; ""))=\(.link_id)"] | sort | join(" ")' <<<"$s")" \
		"status link ids vs bpftool"
}

@test "reset removes everything l3afd pinned and attached, and nothing else" {
	# Someone else's pinned map on the same bpf filesystem, outside pin_root.
	bpftool map create "$LAB_BPFFS/foreign" type array key 4 value 4 entries 1 name foreign
	l3afd_cmd apply
	[ -n "$(find "$LAB_PIN_ROOT" -mindepth 1 -not -type d)" ]

	run l3afd_cmd reset
	echo "$output"
	[ "$status" -eq 0 ]
	assert_eq "" "$(find "$LAB_PIN_ROOT" -mindepth 1 -not -type d 2>/dev/null)" "objects left under pin_root"
	assert_eq "" "$(tcx_link_ids l3a0)" "TCX links left on l3a0"
	[ -e "$LAB_BPFFS/foreign" ]
	bpftool map show pinned "$LAB_BPFFS/foreign" >/dev/null

	run l3afd_cmd plan
	[[ $output != "nothing to do" ]]
}
