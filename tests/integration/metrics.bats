#!/usr/bin/env bats
# The Prometheus endpoint ([daemon] metrics): after known traffic through
# l3a0 has been exported to nfcapd, GET /metrics is valid exposition text
# (promtool) and its counters agree with what the collector stored and with
# `l3afd status --json`.

load lib/common

METRICS_ADDR=127.0.0.1:19469
PINGS=7
MAX_FLOWS=512

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

# metric_value NAME [LABEL=VALUE...] < BODY: the value of the one sample of
# NAME carrying every given label (in any order); fails unless exactly one
# sample matches.
metric_value() {
	local name=$1
	shift
	awk -v name="$name" -v want="$*" '
		BEGIN { n = split(want, w, " ") }
		/^#/ { next }
		{
			series = $1
			base = series; sub(/\{.*/, "", base)
			if (base != name) next
			labels = ""
			if (index(series, "{")) { labels = series; sub(/^[^{]*\{/, "", labels); sub(/\}$/, "", labels) }
			ok = 1
			for (i = 1; i <= n; i++) {
				split(w[i], kv, "=")
				if (index("," labels ",", "," kv[1] "=\"" kv[2] "\",") == 0) { ok = 0; break }
			}
			if (ok) { hits++; val = $2 }
		}
		END { if (hits != 1) exit 1; print val }'
}

@test "GET /metrics: valid exposition whose counters equal the collector's and the status's" {
	l3afd_config_daemon
	sed -i "s|^metrics = \"\"|metrics = \"$METRICS_ADDR\"|" "$LAB_CONF/00-daemon.toml"
	grep -qxF "metrics = \"$METRICS_ADDR\"" "$LAB_CONF/00-daemon.toml"
	l3afd_config_collector nfcapd "$LAB_COLLECTOR_V4" 4739 udp
	L3AF_EXPORTER_MAX_FLOWS=$MAX_FLOWS l3afd_config_exporter edge '"nfcapd"'
	nfcapd_start main "$LAB_NS_COLLECTOR" "$LAB_COLLECTOR_V4" 4739
	lab_wait_quiet "$LAB_NS_APPL" l3a0 1.5 20
	l3afd_start

	in_client ping -q -c "$PINGS" -i 0.2 -s 100 "$LAB_SERVER_V4" >/dev/null
	lab_wait_for 15 "every flow to expire" l3afd_flows_expired 2

	local body status
	body=$(in_appl curl -sS --max-time 5 "http://$METRICS_ADDR/metrics")
	status=$(l3afd_status_json)
	echo "$body" >"$LAB_DIR/metrics.txt"
	echo "$status" >"$LAB_DIR/status.json"

	nfcapd_stop main
	local nf="$LAB_DIR/nfdump.json"
	nfdump_json main >"$nf"

	# Shown only when the test fails.
	grep -E '^l3af_(build_info|flow_exported_packets_total|collector_sent_records_total|reconcile_runs_total|flow_table_capacity)' <<<"$body" || true


	grep -q '^l3af_build_info{' <<<"$body" || {
		echo "no l3af_build_info sample"
		false
	}

	# Exported packets per direction equal the records nfcapd stored.
	local in_pkts out_pkts
	in_pkts=$(metric_value l3af_flow_exported_packets_total exporter=edge interface=l3a0 \
		direction=ingress <<<"$body")
	out_pkts=$(metric_value l3af_flow_exported_packets_total exporter=edge interface=l3a0 \
		direction=egress <<<"$body")
	assert_eq "$PINGS $((PINGS * 128))" "$(totals --nfdump "$nf" --src "$LAB_CLIENT_V4" --dst "$LAB_SERVER_V4" \
		--proto 1 --icmp-type 8)" "echo requests stored by nfcapd"
	local nf_in nf_out
	nf_in=$(totals --nfdump "$nf" --direction 0)
	nf_out=$(totals --nfdump "$nf" --direction 1)
	assert_eq "${nf_in%% *}" "$in_pkts" "exported packets, ingress (metric vs nfdump)"
	assert_eq "${nf_out%% *}" "$out_pkts" "exported packets, egress (metric vs nfdump)"
	assert_ge "$PINGS" "$in_pkts" "exported ingress packets"

	# Collector records sent: metric == status.
	assert_eq "$(jq -r '.collectors[0].records_sent' <<<"$status")" \
		"$(metric_value l3af_collector_sent_records_total collector=nfcapd <<<"$body")" \
		"records sent to nfcapd (metric vs status)"
	# (records_sent also counts options records, so it is not nfdump's count.)
	assert_ge "$(record_count --nfdump "$nf")" \
		"$(metric_value l3af_collector_sent_records_total collector=nfcapd <<<"$body")" \
		"records sent (metric) >= flow records stored by nfcapd"

	local runs
	runs=$(metric_value l3af_reconcile_runs_total <<<"$body")
	assert_ge 1 "$runs" "l3af_reconcile_runs_total"

	assert_eq "$MAX_FLOWS" "$(metric_value l3af_flow_table_capacity exporter=edge <<<"$body")" \
		"l3af_flow_table_capacity"

	# Valid exposition text: promtool says nothing and exits 0 (last, so a
	# missing promtool skips only this check).
	command -v promtool >/dev/null 2>&1 || skip "promtool is not installed"
	local out rc=0
	out=$(promtool check metrics <<<"$body" 2>&1) || rc=$?
	assert_eq "0" "$rc" "promtool check metrics exit status ($out)"
	assert_eq "" "$out" "promtool's findings"
}
