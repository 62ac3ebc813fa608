#!/bin/bash
# Configures (once) and builds l3afd into build/.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
if [ ! -f build/build.ninja ]; then
	meson setup build
fi
ninja -C build
