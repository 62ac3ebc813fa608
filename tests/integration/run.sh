#!/bin/bash
# Runs the integration suite: Bats files whose tests build network-namespace
# labs, run l3afd in them and check what real collectors received.
#
#   tests/integration/run.sh [FILE.bats...]      (default: every *.bats, harness first)
#
# L3AFD: the binary under test (default: build/src/cli/l3afd of this checkout).
# Tests that cannot run here (not root, a tool missing, no binary) are
# reported as skipped with the reason. Exits non-zero when a test fails.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export L3AFD="${L3AFD:-$repo/build/src/cli/l3afd}"
# No test may hang the suite; each one normally takes seconds.
export BATS_TEST_TIMEOUT="${BATS_TEST_TIMEOUT:-180}"

if ! command -v bats >/dev/null 2>&1; then
	echo "run.sh: bats is not installed (apt-get install bats)" >&2
	exit 1
fi

if [ $# -gt 0 ]; then
	files=("$@")
else
	# Every *.bats here, the harness first: if it fails, the lab is broken,
	# not l3afd.
	files=("$here/harness.bats")
	for f in "$here"/*.bats; do
		[ "$f" = "$here/harness.bats" ] || files+=("$f")
	done
fi

echo "run.sh: l3afd under test: $L3AFD" >&2
formatter=()
[ -t 1 ] || formatter=(--tap)
bats "${formatter[@]}" "${files[@]}"
