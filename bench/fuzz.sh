#!/usr/bin/env bash
# fuzz.sh: a longer run of one libFuzzer target than ctest's (10-20 s); default 10 minutes. The corpus grows in
# BUILD_DIR/tests/fuzz/corpus_NAME (fuzz_request: corpus/), so runs build on each other; a crash leaves its
# input as crash-* in BUILD_DIR/tests/fuzz (replay: BUILD_DIR/tests/fuzz/fuzz_NAME crash-...).
# Usage: bench/fuzz.sh NAME [BUILD_DIR (default build)] [SECONDS (default 600)] [libFuzzer flags...]
#   NAME: request (server request parsing), load (text loaders), crecds (dataset files), crecm (checkpoints)
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,6p' "$0"; exit 2; }
name=$1
B=${2:-build}
S=${3:-600}
shift $(($# < 3 ? $# : 3))
exec bash tests/fuzz/run.sh "$name" "$B" "$S" -max_len=8192 "$@"
