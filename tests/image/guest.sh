#!/bin/bash
# Runs inside the appliance that tests/image/run.sh boots. It reaches the
# guest through the 9p share, not the image: kernel-command-line.service
# (systemd.run= on the kernel command line) mounts the share at /mnt and
# starts this script; the machine powers off when it returns.
#
# It drives l3afd the way an operator would (edit /etc/l3af, kill the
# daemon) and waits for each effect, writing to /mnt/out:
#   events      "<ms since boot> <what>" as things happen (run.sh streams it)
#   checks      "check <name> <PASS|FAIL|SKIP> <ms or -> <detail>"
#   *.json      `l3afd status --json` snapshots that run.sh inspects
#   boot-profile.txt  when the boot's milestones were reached (monotonic us)
#   journal.txt, units.txt and friends for a failed run's post-mortem
# Times come from /proc/uptime (10 ms steps): the wall clock may be stepped
# by timesyncd while the test runs.
set -u

out=/mnt/out
mkdir -p "$out"
: >"$out/checks"

# clock: sets now_ms (no subshell: this runs in polling loops).
now_ms=0
clock() {
	local up _
	read -r up _ </proc/uptime
	now_ms=$((10#${up/./} * 10))
}
event() {
	clock
	echo "$now_ms $*" >>"$out/events"
}
# check NAME PASS|FAIL|SKIP MS DETAIL
check() {
	echo "check $1 $2 $3 ${*:4}" >>"$out/checks"
	local t="${3}ms"
	[ "$3" != - ] || t=-
	event "check $1 $2 $t ${*:4}"
}

# nap: sleep without starting a process (a read that times out). All the
# polling below uses shell builtins only: under TCG every process started
# costs tens of milliseconds of the two vCPUs the daemon also needs.
exec {napfd}<> <(:)
nap() { read -rt "${1:-0.05}" -u "$napfd" || true; }

# wait_for TIMEOUT_MS COMMAND...: poll COMMAND until it succeeds. Sets
# waited_ms to the time it took; fails when TIMEOUT_MS passes first.
waited_ms=0
wait_for() {
	local limit=$1 start
	shift
	clock
	start=$now_ms
	while true; do
		if "$@" >/dev/null 2>&1; then
			clock
			waited_ms=$((now_ms - start))
			return 0
		fi
		clock
		if [ $((now_ms - start)) -ge "$limit" ]; then
			waited_ms=$((now_ms - start))
			return 1
		fi
		nap
	done
}

# Cheap conditions (builtins only) on what the daemon writes: its status
# file and its pins.
status_file=/run/l3af/status.json
links_dir=/sys/fs/bpf/l3af/flow_exporter/edge/links
file_has() {
	local content=
	[ -f "$1" ] || return 1
	IFS= read -r -d '' content <"$1" || true
	[[ $content == *"$2"* ]]
}
file_lacks() { [ -f "$1" ] && ! file_has "$1" "$2"; }
pid_file_is_not() {
	local pid=
	[ -f /run/l3af/pid ] && read -r pid </run/l3af/pid && [ -n "$pid" ] && [ "$pid" != "$1" ]
}
attached() { [ -e "$links_dir/$1@tc-ingress" ] && [ -e "$links_dir/$1@tc-egress" ]; }

# Costlier ones, once a cheap one said the change happened.
prop() { systemctl show -p "$1" --value l3afd.service; }
active() { [ "$(systemctl is-active l3afd.service)" = active ]; }
# link_ids: the attachments' link ids, sorted, on one line.
link_ids() { l3afd status --json | grep -o '"link_id": [0-9]*' | grep -o '[0-9]*' | sort -n | xargs; }
snapshot() {
	l3afd status --json >"$out/$1.json" 2>&1
	l3afd status >"$out/$1.txt" 2>&1
}

# restarted OLD_PID: a new daemon wrote its pid file and systemd has it
# READY; waited_ms is the time until then.
restarted() {
	local start
	clock
	start=$now_ms
	wait_for 60000 pid_file_is_not "$1" || return 1
	while ! active || [ "$(prop MainPID)" = "$1" ]; do
		clock
		[ $((now_ms - start)) -lt 60000 ] || return 1
		nap 0.1
	done
	clock
	waited_ms=$((now_ms - start))
}

event "guest test started"
conf=/etc/l3af

# 1. Boot: l3afd reaches READY. The daemon sends READY=1 right after it
# writes its first status file; systemd says "active" only after READY=1.
if wait_for 120000 file_has "$status_file" '"daemon"' && wait_for 60000 active; then
	ready_us=$(prop ActiveEnterTimestampMonotonic)
	start_us=$(prop ExecMainStartTimestampMonotonic)
	echo "$ready_us" >"$out/ready_us"
	event "l3afd ready at $((ready_us / 1000)) ms"
	text=$(prop StatusText)
	pid=$(prop MainPID)
	grep '^Cap' "/proc/$pid/status" >"$out/caps"
	if [[ $text == running:* ]]; then
		check ready PASS $((ready_us / 1000)) "kernel start to READY ($(((ready_us - start_us) / 1000)) ms" \
			"from exec); StatusText: $text"
	else
		check ready FAIL $((ready_us / 1000)) "StatusText: $text"
	fi
else
	check ready FAIL "$waited_ms" "l3afd is $(systemctl is-active l3afd.service) after 120 s"
fi
# The example config's interface: attached at READY if eth0 existed by
# then, else as soon as it appears (the daemon retries pending interfaces).
if wait_for 60000 attached eth0; then
	clock
	check eth0-attached PASS "$now_ms" "kernel start to eth0's TCX links pinned"
else
	check eth0-attached FAIL - "eth0 not attached 60 s after READY"
fi
snapshot ready
# The timed checks below measure a settled system: boot jobs done.
boot_jobs() { systemctl list-jobs --no-legend | grep -v kernel-command-line; }
wait_for 60000 eval '[ -z "$(boot_jobs)" ]' || event "boot jobs still running: $(boot_jobs | xargs)"
event "boot settled"
boot_profile() {
	local u
	for u in initrd-switch-root.target sysinit.target basic.target network.target \
		l3afd.service multi-user.target; do
		echo "$u $(systemctl show -p ActiveEnterTimestampMonotonic --value "$u")"
	done
	systemctl show -p UserspaceTimestampMonotonic -p FinishTimestampMonotonic
}
boot_profile >"$out/boot-profile.txt"
if systemctl is-active -q l3afd.path; then
	check path-unit PASS - "l3afd.path is active"
else
	check path-unit FAIL - "l3afd.path is $(systemctl is-active l3afd.path)"
fi
systemctl show l3afd.service >"$out/l3afd.show"
# The D-Bus name: the policy file is installed and the sandbox lets the
# daemon reach the system bus.
if busctl --system status org.l3af.l3afd >"$out/busctl.txt" 2>&1; then
	check dbus-name PASS - "org.l3af.l3afd owned by pid $(sed -n 's/^PID=//p' "$out/busctl.txt")"
else
	check dbus-name FAIL - "org.l3af.l3afd: $(head -n1 "$out/busctl.txt")"
fi

# 2. An in-place edit of the example file (same inode: truncate, write,
# close): the exporter also watches lo. Only the path unit can notice.
reloads_before=$(systemctl show -p InvocationID --value l3afd-reload.service)
sed 's/^interfaces = \["eth0"\]/interfaces = ["eth0", "lo"]/' "$conf/10-flows.toml" >/tmp/10-flows.toml
event "edit in place: interfaces += lo"
cat /tmp/10-flows.toml >"$conf/10-flows.toml"
if wait_for 10000 attached lo; then
	ms=$waited_ms
	snapshot edit
	reloads_after=$(systemctl show -p InvocationID --value l3afd-reload.service)
	if [ "$reloads_after" = "$reloads_before" ]; then
		check edit-in-place FAIL "$ms" "applied, but not through l3afd-reload.service"
	elif ! grep -q '"interface": "lo"' "$out/edit.json"; then
		check edit-in-place FAIL "$ms" "lo pinned, but not in l3afd status --json"
	elif [ "$ms" -gt 2000 ]; then
		check edit-in-place FAIL "$ms" "applied, but later than 2 s"
	else
		check edit-in-place PASS "$ms" "write to lo attached (pins, then status --json)"
	fi
else
	snapshot edit
	check edit-in-place FAIL "$waited_ms" "lo never attached"
fi

# 3. A new file, written next to the others and renamed in (what editors and
# configuration management do): a second collector.
event "new file: collector 'second'"
printf '%s\n' '# Added by the image test.' '[[collector]]' 'name = "second"' \
	'address = "127.0.0.1"' 'port = 4740' 'transport = "udp"' 'observation_domain = 2' \
	>"$conf/.20-second.toml.new"
mv "$conf/.20-second.toml.new" "$conf/20-second.toml"
if wait_for 10000 file_has "$status_file" '"name": "second"'; then
	ms=$waited_ms
	snapshot collector
	text=$(prop StatusText)
	if [[ $text != "running: 2 collector(s)"* ]]; then
		check new-file FAIL "$ms" "StatusText: $text"
	elif [ "$ms" -gt 2000 ]; then
		check new-file FAIL "$ms" "applied, but later than 2 s"
	else
		check new-file PASS "$ms" "rename into /etc/l3af to 'second' running; StatusText: $text"
	fi
else
	snapshot collector
	check new-file FAIL "$waited_ms" "status never showed collector 'second'"
fi
links_good=$(link_ids)
echo "$links_good" >"$out/links-good"

# 4. A bad edit: rejected, the old state keeps running, status says why.
event "bad file: syntax error"
printf '%s\n' '# Added by the image test: line 3 is not TOML.' '[[collector]]' 'name = "broken' \
	>"$conf/30-bad.toml"
if wait_for 10000 file_has "$status_file" '30-bad.toml:3'; then
	ms=$waited_ms
	snapshot bad
	links_bad=$(link_ids)
	text=$(prop StatusText)
	if ! active; then
		check bad-edit FAIL "$ms" "l3afd is $(systemctl is-active l3afd.service)"
	elif [[ $text != "configuration rejected"* ]]; then
		check bad-edit FAIL "$ms" "StatusText: $text"
	elif [ -z "$links_bad" ] || [ "$links_bad" != "$links_good" ]; then
		check bad-edit FAIL "$ms" "links changed: '$links_good' -> '$links_bad'"
	elif ! grep -q '30-bad.toml:3' "$out/bad.txt"; then
		check bad-edit FAIL "$ms" "l3afd status does not name 30-bad.toml:3"
	else
		check bad-edit PASS "$ms" "rejected, links kept ($links_bad); StatusText: $text"
	fi
else
	snapshot bad
	check bad-edit FAIL "$waited_ms" "status never showed the error; StatusText: $(prop StatusText)"
fi
# `systemctl reload` (ExecReload=, from inside the sandbox) is synchronous
# and fails while the configuration is rejected.
if systemctl reload l3afd.service >"$out/reload-bad.txt" 2>&1; then
	reload_bad=ok
else
	reload_bad=failed
fi
event "bad file removed"
rm -f "$conf/30-bad.toml"
if wait_for 10000 file_lacks "$status_file" '30-bad.toml'; then
	ms=$waited_ms
	snapshot recovered
	text=$(prop StatusText)
	if [[ $text == "running: 2 collector(s)"* ]]; then
		check bad-edit-removed PASS "$ms" "StatusText: $text"
	else
		check bad-edit-removed FAIL "$ms" "StatusText: $text"
	fi
else
	snapshot recovered
	check bad-edit-removed FAIL "$waited_ms" "the error stayed in the status"
fi

if systemctl reload l3afd.service >"$out/reload-good.txt" 2>&1; then
	reload_good=ok
else
	reload_good=failed
fi
if [ "$reload_bad/$reload_good" = failed/ok ]; then
	check systemctl-reload PASS - "fails with the bad file, succeeds without it"
else
	check systemctl-reload FAIL - "with the bad file: $reload_bad, without: $reload_good" \
		"($(head -n1 "$out/reload-bad.txt"))"
fi

# 5. SIGKILL: systemd restarts l3afd, which adopts the pinned links.
pid=$(prop MainPID)
event "SIGKILL l3afd ($pid)"
kill -KILL "$pid"
if restarted "$pid"; then
	ms=$waited_ms
	snapshot killed
	links_now=$(link_ids)
	if [ -n "$links_now" ] && [ "$links_now" = "$links_good" ]; then
		check sigkill-restart PASS "$ms" "restarted (NRestarts=$(prop NRestarts)), same links ($links_now)"
	else
		check sigkill-restart FAIL "$ms" "links changed: '$links_good' -> '$links_now'"
	fi
else
	snapshot killed
	check sigkill-restart FAIL "$waited_ms" "l3afd is $(systemctl is-active l3afd.service)"
fi

# 6. Watchdog: with a short WatchdogSec the loop's pings keep l3afd alive; a
# stopped daemon is killed and restarted, and adopts the links again.
mkdir -p /run/systemd/system/l3afd.service.d
printf '[Service]\nWatchdogSec=3s\n' >/run/systemd/system/l3afd.service.d/50-image-test.conf
systemctl daemon-reload
systemctl restart l3afd.service
pid=$(prop MainPID)
nap 7
if [ "$(prop MainPID)" != "$pid" ] || ! active; then
	check watchdog FAIL - "restarted although the loop runs (WatchdogSec=3s)"
else
	event "SIGSTOP l3afd ($pid): the watchdog must fire"
	kill -STOP "$pid"
	if restarted "$pid"; then
		ms=$waited_ms
		links_now=$(link_ids)
		if [ -z "$links_now" ] || [ "$links_now" != "$links_good" ]; then
			check watchdog FAIL "$ms" "links changed: '$links_good' -> '$links_now'"
		elif ! journalctl -b -u l3afd.service | grep -q 'Watchdog timeout'; then
			check watchdog FAIL "$ms" "restarted, but no watchdog timeout in the journal"
		else
			check watchdog PASS "$ms" "stopped daemon killed by the watchdog, restarted, same links"
		fi
	else
		check watchdog FAIL "$waited_ms" "no restart after SIGSTOP: $(systemctl is-active l3afd.service)"
	fi
fi
rm -f /run/systemd/system/l3afd.service.d/50-image-test.conf
systemctl daemon-reload
snapshot final

# 7. `l3afd reset` removes everything, the pin root included; the next start
# must work all the same (l3afd-pin-root.service recreates the directory the
# sandbox makes writable).
systemctl stop l3afd.service
l3afd reset >"$out/reset.txt" 2>&1
gone=yes
[ ! -e /sys/fs/bpf/l3af ] || gone=no
clock
start=$now_ms
systemctl start l3afd.service
if [ "$gone" = yes ] && wait_for 60000 attached eth0 && active; then
	clock
	check reset-start PASS $((now_ms - start)) "pin root removed by reset; start to eth0 attached again"
else
	check reset-start FAIL - "pin root gone after reset: $gone; l3afd $(systemctl is-active l3afd.service):" \
		"$(prop StatusText)"
fi

# 8. Mirroring to Linux's own FOU/GUE receiver (DESIGN.md 6): an "analysis
# host" in a network namespace behind a veth pair decapsulates with the
# guest kernel's fou + ipip; l3afd mirrors eth0's ICMP to it. Pings to
# qemu's gateway must come out of the receiver's ipip device.
ana_rx() { ip -n ana -s -j link show gue0 | grep -o '"rx":{[^}]*' | grep -o '"packets":[0-9]*' | grep -o '[0-9]*$'; }
# fou's generic netlink family is not loaded on demand: modprobe it.
gue_setup() {
	modprobe fou && ip netns add ana &&
		ip link add ana0 type veth peer name ana1 netns ana &&
		ip addr add 192.168.77.1/24 dev ana0 && ip link set ana0 up &&
		ip -n ana addr add 192.168.77.2/24 dev ana1 && ip -n ana link set ana1 up &&
		ip -n ana link set lo up &&
		ip netns exec ana ip fou add port 6080 gue &&
		ip -n ana link add gue0 type ipip remote any local 192.168.77.2 encap gue \
			encap-sport auto encap-dport 6080 &&
		ip -n ana link set gue0 up
}
if ! gue_setup >"$out/gue-setup.txt" 2>&1; then
	check gue-receiver FAIL - "receiver setup: $(tail -n1 "$out/gue-setup.txt")"
else
	event "mirror eth0's ICMP over GUE to 192.168.77.2"
	printf '%s\n' '# Added by the image test: mirror to the receiver in netns "ana".' \
		'[[tunnel]]' 'name = "ana"' 'remote = "192.168.77.2"' 'device = "ana0"' '' \
		'[[mirror]]' 'name = "icmp"' 'interface = "eth0"' 'direction = "both"' 'tunnel = "ana"' \
		'' '[[mirror.rule]]' 'protocol = "icmp"' >"$conf/.60-mirror.toml.new"
	mv "$conf/.60-mirror.toml.new" "$conf/60-mirror.toml"
	mirror_links=/sys/fs/bpf/l3af/mirror/icmp/links
	if wait_for 20000 eval '[ -e "$mirror_links/eth0@tc-ingress" ] && [ -e "$mirror_links/eth0@tc-egress" ]'; then
		ms=$waited_ms
		before=$(ana_rx)
		ping -q -c 5 -i 0.2 -W 2 10.0.2.2 >"$out/ping.txt" 2>&1
		replies=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$out/ping.txt")
		nap 1
		after=$(ana_rx)
		snapshot mirror
		got=$((${after:-0} - ${before:-0}))
		# Every request goes out eth0 (egress), every reply comes in (ingress).
		if [ "$got" -ge $((5 + ${replies:-0})) ]; then
			check gue-receiver PASS "$ms" "5 requests + ${replies:-0} replies mirrored," \
				"$got decapsulated by fou/ipip in netns ana (config to attached: ${ms} ms)"
		else
			check gue-receiver FAIL "$ms" "ping: 5 requests, ${replies:-0} replies; receiver got $got"
		fi
	else
		snapshot mirror
		check gue-receiver FAIL "$waited_ms" "mirror not attached to eth0: $(prop StatusText)"
	fi
fi
ip -n ana -s -d link show >"$out/ana-links.txt" 2>&1

# 9. XDP chains (libxdp's dispatcher runs its components as freplace
# programs, which this kernel loads; the development host's does not).
# a. The xdp_chain BPF suite, built on the host, run here: every case runs,
#    xdp-loader as the foreign libxdp user; only the no-freplace case skips.
xdp=/mnt/xdp
if [ ! -x "$xdp/xdp_chain_test" ]; then
	check xdp-chain-suite FAIL - "no $xdp/xdp_chain_test (run.sh builds it)"
else
	L3AF_XDP_TRACE_OBJECT=$xdp/xdp_trace.bpf.o L3AF_XDP_REJECT_OBJECT=$xdp/xdp_reject.bpf.o \
		"$xdp/xdp_chain_test" >"$out/xdp_chain.txt" 2>&1
	rc=$?
	passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out/xdp_chain.txt")
	# The summary names each skipped test on a line of its own.
	skipped=$(sed -n 's/^\[  SKIPPED \] \([A-Za-z]*\.[A-Za-z]*\)$/\1/p' "$out/xdp_chain.txt" | xargs)
	if [ "$rc" -eq 0 ] && [ "${passed:-0}" -gt 0 ] &&
		[ "$skipped" = XdpChainTest.RefusesWhenTheKernelCannotRunADispatcher ]; then
		check xdp-chain-suite PASS - "$passed passed, the no-freplace case skipped, in kernel $(uname -r)"
	else
		check xdp-chain-suite FAIL - "exit $rc, ${passed:-0} passed; skipped: ${skipped:-none};" \
			"failed: $(sed -n 's/^\[  FAILED  \] \([A-Za-z]*\.[A-Za-z]*\).*/\1/p' "$out/xdp_chain.txt" | sort -u | xargs)"
	fi
fi

# b. l3afd under the shipped unit (CAP_SYS_ADMIN held lowered, raised for
#    libxdp) runs two [[program]]s on one interface's XDP hook in priority
#    order; a priority edit reorders them; a foreign xdp-loader component
#    shares the dispatcher and survives a reload and `l3afd reset`. The order
#    is read from the packets (stamp.pl): each program writes its id.
xdp_setup() {
	ip netns add xdpc && ip link add xo0 type veth peer name xo1 netns xdpc &&
		ip addr add 10.77.7.1/24 dev xo0 && ip link set xo0 up &&
		ip -n xdpc addr add 10.77.7.2/24 dev xo1 && ip -n xdpc link set xo1 up &&
		mkdir -p /usr/local/lib/l3af-test && cp "$xdp/order_stamp.bpf.o" /usr/local/lib/l3af-test/
}
# stamper NAME ID PRIORITY: a [[program]] whose packets get ID.
stamper() {
	printf '%s\n' '[[program]]' "name = \"$1\"" 'object = "/usr/local/lib/l3af-test/order_stamp.bpf.o"' \
		'function = "xdp_stamp"' 'hook = "xdp"' 'interfaces = ["xo0"]' "priority = $3" \
		'[program.maps.stamp]' "entries = [ { key = 0, value = $2 } ]" ''
}
# run_order: the ids 3 packets from netns xdpc carry, one packet per line.
# The receiver says when it is bound: perl starts slowly under TCG.
run_order() {
	perl "$xdp/stamp.pl" receive 10.77.7.1 3 3 >"$out/stamps.txt" 2>&1 &
	local receiver=$!
	wait_for 10000 file_has "$out/stamps.txt" listening
	ip netns exec xdpc perl "$xdp/stamp.pl" send 10.77.7.1 3
	wait "$receiver"
	grep -v '^listening$' "$out/stamps.txt"
}
xdp_pinned() {
	[ -e /sys/fs/bpf/l3af/program/one/links/xo0@xdp ] && [ -e /sys/fs/bpf/l3af/program/two/links/xo0@xdp ]
}
# xdp_ids: the dispatcher's components as "priority:id", in run order.
xdp_ids() { xdp-loader status xo0 2>/dev/null | awk '$1 == "=>" { print $2 ":" $4 }' | xargs; }
if ! xdp_setup >"$out/xdp-setup.txt" 2>&1; then
	check xdp-order FAIL - "setup: $(tail -n1 "$out/xdp-setup.txt")"
else
	event "two XDP programs on xo0: one at priority 30, two at 10"
	{
		stamper one 1 30
		stamper two 2 10
	} >"$conf/.70-xdp.toml.new"
	mv "$conf/.70-xdp.toml.new" "$conf/70-xdp.toml"
	if wait_for 20000 xdp_pinned; then
		ms=$waited_ms
		order=$(run_order | sort -u | xargs -d '\n')
		if [ "$order" = "2 1" ]; then
			check xdp-order PASS "$ms" "packets stamped '2 1' (priorities 10, 30); dispatcher: $(xdp_ids)"
		else
			check xdp-order FAIL "$ms" "packets stamped '$order', expected '2 1'; $(prop StatusText)"
		fi
	else
		snapshot xdp
		check xdp-order FAIL "$waited_ms" "not attached: $(prop StatusText)"
	fi

	# A foreign component between them (xdp-loader joins the dispatcher).
	mkdir -p /sys/fs/bpf/foreign-stamp
	xdp-loader load -p /sys/fs/bpf/foreign-stamp -n xdp_stamp -P 20 xo0 \
		/usr/local/lib/l3af-test/order_stamp.bpf.o >"$out/xdp-foreign.txt" 2>&1
	foreign=$(xdp-loader status xo0 2>/dev/null | awk '$1 == "=>" && $2 == 20 { print $4 }')
	event "foreign component: ${foreign:-none}; priority of one: 30 -> 5"
	sed -i 's/^priority = 30$/priority = 5/' "$conf/70-xdp.toml"
	reordered() { [ "$(run_order | sort -u | xargs -d '\n')" = "1 2" ]; }
	if [ -z "$foreign" ]; then
		check xdp-reorder FAIL - "xdp-loader could not add a foreign component: $(tail -n1 "$out/xdp-foreign.txt")"
	elif wait_for 20000 reordered; then
		ms=$waited_ms
		if [[ " $(xdp_ids) " == *" 20:$foreign "* ]]; then
			check xdp-reorder PASS "$ms" "packets stamped '1 2' after the edit; foreign component" \
				"$foreign kept: $(xdp_ids)"
		else
			check xdp-reorder FAIL "$ms" "reordered, but the foreign component $foreign is gone: $(xdp_ids)"
		fi
	else
		snapshot xdp
		check xdp-reorder FAIL "$waited_ms" "packets stamped '$(run_order | sort -u | xargs -d '\n')'," \
			"expected '1 2'; $(prop StatusText)"
	fi

	# An update of 'two' (other bytes, same program: a new revision) under
	# 500 pings at 10 ms: libxdp swaps whole dispatchers atomically, so no
	# packet meets an interface without its programs; 'one' and the foreign
	# component keep their ids.
	before_ids=$(xdp_ids)
	cp /usr/local/lib/l3af-test/order_stamp.bpf.o /usr/local/lib/l3af-test/order_stamp2.bpf.o
	printf '\n' >>/usr/local/lib/l3af-test/order_stamp2.bpf.o
	ip netns exec xdpc ping -q -c 500 -i 0.01 10.77.7.1 >"$out/xdp-ping.txt" 2>&1 &
	pinger=$!
	nap 1
	event "update 'two' under ping -i 0.01"
	# 'two' is the second [[program]] of the file: its object line is the last.
	last=$(grep -n '^object = ' "$conf/70-xdp.toml" | tail -n1 | cut -d: -f1)
	sed -i "${last}s|order_stamp.bpf.o|order_stamp2.bpf.o|" "$conf/70-xdp.toml"
	two_swapped() { [[ " $(xdp_ids) " != *" ${before_ids#* } "* ]] && [ "$(xdp_ids | wc -w)" = 3 ]; }
	wait_for 20000 two_swapped
	ms=$waited_ms
	wait "$pinger"
	after_ids=$(xdp_ids)
	one_before=${before_ids%% *}
	foreign_before=${before_ids##* }
	received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$out/xdp-ping.txt")
	if [ "${received:-0}" != 500 ]; then
		check xdp-update FAIL "$ms" "ping: $(grep received "$out/xdp-ping.txt"); ids $before_ids -> $after_ids"
	elif [ "$after_ids" = "$before_ids" ] || [[ $after_ids != "$one_before "*" $foreign_before" ]]; then
		check xdp-update FAIL "$ms" "components $before_ids -> $after_ids: expected only 'two' to change"
	else
		check xdp-update PASS "$ms" "500 of 500 pings across the update; components $before_ids -> $after_ids"
	fi

	# reset removes l3afd's components and nothing else.
	systemctl stop l3afd.service
	l3afd reset >"$out/xdp-reset.txt" 2>&1
	left=$(xdp_ids)
	if [ -n "$foreign" ] && [ "$left" = "20:$foreign" ]; then
		check xdp-reset PASS - "after l3afd reset the dispatcher holds the foreign component only ($left)"
	else
		check xdp-reset FAIL - "after l3afd reset: '$left' (foreign: '${foreign:-none}')"
	fi
fi

# Post-mortem material.
journalctl -b --no-pager -o short-monotonic >"$out/journal.txt" 2>&1
systemctl list-units --all --no-pager >"$out/units.txt" 2>&1
ip -d link show >"$out/links.txt" 2>&1
uname -r >"$out/uname"
event "guest test done"
sync
exit 0
