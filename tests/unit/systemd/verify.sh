#!/bin/bash
# verify.sh L3AFD_BINARY UNIT_DIR: the units in UNIT_DIR load cleanly
# (`systemd-analyze verify`: syntax, dependencies, executables) and
# l3afd.service keeps its sandbox (`systemd-analyze security` exposure at
# most 2.2: 1.9 before CAP_SYS_ADMIN joined the bounding set for XDP chains,
# which the tool weighs 0.3 and cannot see is held lowered). The units are checked inside a scratch root holding this host's
# system units, the built binary at /usr/sbin/l3afd and systemctl, so that
# nothing needs installing. Exit 77 (skip) where systemd-analyze cannot run.
set -euo pipefail

binary="$1"
units="$2"
max_exposure=22 # tenths: 2.2

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
score="$(sed -n 's/.*Overall exposure level for l3afd.service: \([0-9.]*\).*/\1/p' "$root/security")"
if systemd-analyze security --root="$root" --offline=yes --threshold="$max_exposure" \
	l3afd.service >/dev/null 2>&1; then
	echo "ok: l3afd.service exposure $score (at most 2.2)"
else
	echo "FAIL: l3afd.service exposure $score is above 2.2:"
	grep '✗' "$root/security" || true
	status=1
fi
exit "$status"
