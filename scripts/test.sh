#!/usr/bin/env bash
# test.sh: every test on a fresh machine: install missing Debian packages, build with -Wall -Wextra -Werror,
# AddressSanitizer and UBSan (build-test/), run all unit and integration tests through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
CREC_BROWSER_TESTS=1 bash scripts/bootstrap.sh  # the dashboard test drives a real Chromium
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DCREC_SANITIZE=ON -DCREC_WERROR=ON \
      -DCMAKE_C_FLAGS_DEBUG="-O1 -g" >/dev/null
cmake --build build-test -j "$(nproc)"
cd build-test
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j "$(nproc)"
