#!/bin/bash
# verify.sh L3AFD_BINARY UNIT_DIR: the units in UNIT_DIR load cleanly
# (`systemd-analyze verify`: syntax, dependencies, executables) and
# l3afd.service keeps its sandbox: `systemd-analyze security` exposure at
# most 2.0 for everything but CAP_SYS_ADMIN (checked on a copy of the unit
# without it), and at most 2.2 as shipped (CAP_SYS_ADMIN, for XDP chains,
# weighs 0.3 and the tool cannot see that the daemon holds it lowered). The units are checked inside a scratch root holding this host's
# system units, the built binary at /usr/sbin/l3afd and systemctl, so that
# nothing needs installing. Exit 77 (skip) where systemd-analyze cannot run.
set -euo pipefail

binary="$1"
units="$2"
max_exposure=22      # tenths: 2.2
max_exposure_rest=20 # tenths: 2.0, the unit without CAP_SYS_ADMIN

if ! command -v systemd-analyze >/dev/null || [ ! -d /usr/lib/systemd/system ] ||
	! systemd-analyze --version >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze is not available"
	exit 77
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd"
cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
names=()
for u in "$units"/*.service "$units"/*.path; do
	cp "$u" "$root/usr/lib/systemd/system/"
	names+=("$(basename "$u")")
done
# Every program the units run: l3afd from the build, helpers from UNIT_DIR,
# the others from this host.
for exe in $(sed -n 's/^Exec[A-Za-z]*=[-+!@:]*\(\/[^ ]*\).*/\1/p' "$units"/*.service | sort -u); do
	mkdir -p "$root$(dirname "$exe")"
	if [ "$exe" = /usr/sbin/l3afd ]; then
		cp "$binary" "$root$exe"
	elif [ -x "$units/$(basename "$exe")" ]; then
		cp "$units/$(basename "$exe")" "$root$exe"
	elif [ -x "$exe" ]; then
		cp "$exe" "$root$exe"
	fi
done

status=0
# verify returns 0 on warnings (unknown keys, bad values): any line is a failure.
if ! out="$(systemd-analyze verify --root="$root" "${names[@]}" 2>&1)" || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify ${names[*]}"
	echo "$out"
	status=1
else
	echo "ok: systemd-analyze verify ${names[*]}"
fi

if ! systemd-analyze security --root="$root" --offline=yes l3afd.service >"$root/security" 2>&1; then
	echo "SKIP: systemd-analyze security --offline cannot run here"
	cat "$root/security"
	exit $((status ? status : 77))
fi
# exposure UNIT THRESHOLD LABEL: the unit's exposure at most THRESHOLD
# (tenths); prints the score, and the exposed settings when above.
exposure() {
	systemd-analyze security --root="$root" --offline=yes "$1" >"$root/security" 2>&1 || true
	local score
	score="$(sed -n "s/.*Overall exposure level for $1: \([0-9.]*\).*/\1/p" "$root/security")"
	if systemd-analyze security --root="$root" --offline=yes --threshold="$2" "$1" >/dev/null 2>&1; then
		echo "ok: $3 exposure $score (at most $(($2 / 10)).$(($2 % 10)))"
	else
		echo "FAIL: $3 exposure ${score:-unknown} is above $(($2 / 10)).$(($2 % 10)):"
		grep '✗' "$root/security" || true
		status=1
	fi
}
exposure l3afd.service "$max_exposure" l3afd.service
# The same unit without CAP_SYS_ADMIN: the rest of the sandbox at 2.0.
sed 's/^\(CapabilityBoundingSet=.*\) CAP_SYS_ADMIN/\1/' "$root/usr/lib/systemd/system/l3afd.service" \
	>"$root/usr/lib/systemd/system/l3afd-no-admin.service"
if grep -q "^CapabilityBoundingSet=.*CAP_SYS_ADMIN" "$root/usr/lib/systemd/system/l3afd-no-admin.service"; then
	echo "FAIL: could not take CAP_SYS_ADMIN out of a copy of l3afd.service"
	status=1
else
	exposure l3afd-no-admin.service "$max_exposure_rest" "l3afd.service without CAP_SYS_ADMIN"
fi
exit "$status"
