#!/bin/bash
# Sets up the machine, builds, and runs every test: unit (no root), eBPF
# (BPF_PROG_TEST_RUN, root) and integration (network namespaces, root).
# Tests that cannot run here report themselves skipped.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

if [ "$(id -u)" -eq 0 ]; then
	bash scripts/setup.sh
else
	echo "test.sh: not root: skipping setup (packages must already be installed)"
fi
bash scripts/build.sh

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=1

if [ -x tests/integration/run.sh ]; then
	L3AFD="$repo/build/src/cli/l3afd" tests/integration/run.sh || status=1
fi
exit $status
