#!/usr/bin/env bash
# The whole test suite. Installs what is missing, builds twice (plain, and
# with ASan+UBSan for the C unit tests), then ctest runs the fast tier (C
# unit tests, busted specs) before the integration tier (real Chromium,
# the bundled portals). ctest's last line is the summary.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh --sanitize
tools/setup.sh
cmake -S . -B build -DAF_ASAN_DIR="$PWD/build-asan" >/dev/null
cd build
ctest --output-on-failure
