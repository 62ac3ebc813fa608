#!/bin/bash
# Sets up the machine, builds, and runs every test: unit (no root), eBPF
# (BPF_PROG_TEST_RUN, root) and integration (network namespaces, root).
# Tests that cannot run here report themselves skipped.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

if [ "$(id -u)" -eq 0 ]; then
	bash scripts/setup.sh || exit 1
else
	echo "test.sh: not root: skipping setup (packages must already be installed)"
fi
bash scripts/build.sh || exit 1

meson test -C build --print-errorlogs --num-processes 2 --no-suite bench
meson_status=$?

tap="$(mktemp)"
trap 'rm -f "$tap"' EXIT
integration_status=0
if [ -x tests/integration/run.sh ]; then
	L3AFD="$repo/build/src/cli/l3afd" tests/integration/run.sh | tee "$tap"
	integration_status=${PIPESTATUS[0]}
fi

# The appliance image: build it, boot it under qemu, check it from inside.
image_status=0
if [ -x tests/image/run.sh ]; then
	tests/image/run.sh
	image_status=$?
	case $image_status in
	0) echo "ok image: the appliance boots, reloads on file change and decapsulates GUE" >>"$tap" ;;
	77) echo "ok image # skip: tests/image/run.sh could not run here" >>"$tap"; image_status=0 ;;
	*) echo "not ok image: tests/image/run.sh exited $image_status" >>"$tap" ;;
	esac
fi

# One closing line over all runners: meson's per-test results and TAP lines.
/usr/bin/python3 - "$repo/build/meson-logs/testlog.json" "$tap" <<'PY'
import json, re, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        result = json.loads(line).get("result")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
with open(sys.argv[2]) as tap:
    for line in tap:
        if line.startswith("not ok "):
            failed += 1
        elif line.startswith("ok "):
            if re.search(r"#\s*skip", line, re.I):
                skipped += 1
            else:
                passed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY

[ $meson_status -eq 0 ] && [ $integration_status -eq 0 ] && [ $image_status -eq 0 ]
