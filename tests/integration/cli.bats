#!/usr/bin/env bats
# The command line as a config-management tool or a person uses it: `check`
# validates files without root and points at file:line:column; usage errors
# exit 2. No lab needed.

bats_require_minimum_version 1.5.0
load lib/lab

setup() {
	[ -x "$L3AFD" ] || skip "l3afd binary not found at $L3AFD (build it, or set L3AFD)"
	CONF=$(mktemp -d /tmp/l3af-cli.XXXXXX)
	chmod 0755 "$CONF"
	cat >"$CONF/10-collector.toml" <<'TOML'
[[collector]]
name = "soc"
address = "192.0.2.10"
port = 4739
transport = "udp"
TOML
	cat >"$CONF/20-exporter.toml" <<'TOML'
[[flow_exporter]]
name = "edge"
interfaces = ["eth0"]
direction = "both"
collectors = ["soc"]
idle_timeout = "15s"
TOML
}

teardown() {
	[ -z "${CONF:-}" ] || rm -rf "$CONF"
}

# bad_file NAME CONTENT: writes CONTENT as CONF/NAME.
bad_file() { printf '%s\n' "$2" >"$CONF/$1"; }

# check_fails_at FILE LINE [COLUMN]: `l3afd check CONF` exits 1 and a
# diagnostic points at FILE:LINE:COLUMN (LINE and COLUMN are regexes; the
# column defaults to any).
check_fails_at() {
	run --separate-stderr "$L3AFD" check "$CONF"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 1 ]
	local line=$2 col=${3:-[0-9]+}
	[[ $stderr =~ (^|$'\n')"$CONF/$1:"$line:$col": error: " ]]
}

@test "check: a good directory exits 0 and prints no error" {
	run --separate-stderr "$L3AFD" check "$CONF"
	echo "$output / $stderr"
	[ "$status" -eq 0 ]
	[[ $stderr != *"error"* ]]
}

@test "check: a single good file exits 0" {
	run --separate-stderr "$L3AFD" check "$CONF/10-collector.toml"
	echo "$output / $stderr"
	[ "$status" -eq 0 ]
}

@test "check: a TOML syntax error exits 1 with file:line:column" {
	bad_file 30-bad.toml $'# line 1\n[[collector]]\nname = "broken\nport = 1'
	check_fails_at 30-bad.toml 3
}

@test "check: a bad single file given as FILE exits 1 with file:line:column" {
	bad_file 30-bad.toml $'[[collector]]\nname = "x"\naddress = "192.0.2.1"\nport = [1, 2'
	run --separate-stderr "$L3AFD" check "$CONF/30-bad.toml"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ $stderr =~ "$CONF/30-bad.toml:4:"[0-9]+": error: " ]]
}

@test "check: an unknown key is an error at its line and column" {
	bad_file 30-typo.toml $'[[collector]]\nname = "typo"\nadress = "192.0.2.11"'
	check_fails_at 30-typo.toml 3 1
	[[ $stderr == *adress* ]]
}

@test "check: a value of the wrong type is an error at its line" {
	bad_file 30-type.toml $'[[collector]]\nname = "t"\naddress = "192.0.2.12"\nport = "4739"'
	check_fails_at 30-type.toml 4
}

@test "check: an out-of-range value is an error at its line" {
	bad_file 30-range.toml $'[[collector]]\nname = "r"\naddress = "192.0.2.13"\nport = 70000'
	check_fails_at 30-range.toml 4
}

@test "check: a bad duration is an error at its line" {
	bad_file 30-dur.toml $'[[flow_exporter]]\nname = "d"\ninterfaces = ["eth1"]\ncollectors = ["soc"]\nidle_timeout = "soon"'
	check_fails_at 30-dur.toml 5
}

@test "check: a reference to a missing collector is an error at its line" {
	bad_file 30-ref.toml $'[[flow_exporter]]\nname = "x"\ninterfaces = ["eth1"]\ncollectors = ["nowhere"]'
	check_fails_at 30-ref.toml 4
	[[ $stderr == *nowhere* ]]
}

@test "check: a name declared in two files is an error naming both files" {
	bad_file 30-dup.toml $'# again\n[[collector]]\nname = "soc"\naddress = "192.0.2.14"'
	# At the table or at its name: either says where the second one is.
	check_fails_at 30-dup.toml '[23]'
	[[ $stderr == *"$CONF/10-collector.toml"* ]]
}

@test "check: needs no root" {
	[ "$(id -u)" -eq 0 ] || skip "already not root: the other tests show it"
	command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$L3AFD" check "$CONF"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "usage errors exit 2" {
	run "$L3AFD" frobnicate
	[ "$status" -eq 2 ]
	run "$L3AFD" check --no-such-option
	[ "$status" -eq 2 ]
	run "$L3AFD" --help
	[ "$status" -eq 0 ]
}
