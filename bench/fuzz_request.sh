#!/usr/bin/env bash
# fuzz_request.sh: a longer run of the request-parsing fuzz target than ctest's 20 s (default 10 minutes).
# Usage: bench/fuzz_request.sh [BUILD_DIR (default build)] [SECONDS (default 600)]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
F=$B/tests/fuzz/fuzz_request
[ -x "$F" ] || { echo "$F not built (needs clang)"; exit 1; }
mkdir -p "$B/tests/fuzz/corpus"
cp -n tests/fuzz/seeds/* "$B/tests/fuzz/corpus/"
cd "$B/tests/fuzz"
./fuzz_request -max_total_time="${2:-600}" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 corpus
