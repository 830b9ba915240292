#!/usr/bin/env bash
# The whole test suite: set-up, the fast tier (C unit tests, also under
# ASan+UBSan, and busted specs), then the integration tier (real Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
tools/setup.sh --sanitize

echo "== C unit tests under AddressSanitizer + UBSan"
AF_TEST_TIMEOUT_MULT=4 ASAN_OPTIONS=detect_leaks=1 build-asan/af_tests

echo "== fast tier, then integration tier"
cd build
ctest --output-on-failure -L fast
ctest --output-on-failure -L integration
