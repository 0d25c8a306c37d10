#!/usr/bin/env bash
# fuzz_request.sh: a longer run of the request-parsing fuzz target than ctest's 20 s (default 10 minutes).
# Usage: bench/fuzz_request.sh [BUILD_DIR (default build)] [SECONDS (default 600)]; same as bench/fuzz.sh request.
exec bash "$(dirname "$0")/fuzz.sh" request "${1:-build}" "${2:-600}"
