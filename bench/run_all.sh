#!/usr/bin/env bash
# run_all.sh: every benchmark of crec, with the figures printed (make bench). Uses ../shared/data when present.
set -u
cd "$(dirname "$0")/.."
B=build
S=../shared/data
echo "# crec benchmarks - $(date -u +%F) - $(nproc) cores - commit $(git rev-parse --short HEAD 2>/dev/null)"
echo
echo "## SGEMM (BLAS kernel in use)"
"$B/bench_sgemm"
echo
echo "## dataset load"
args=()
[ -f "$S/amazon-beauty/Beauty.txt" ] && args+=(sequences "$S/amazon-beauty/Beauty.txt")
[ -f "$S/ml-1m/ratings.implicit.all-users.dat" ] && args+=(movielens "$S/ml-1m/ratings.implicit.all-users.dat")
[ -d "$S/ml-100k" ] && args+=(movielens "$S/ml-100k")
"$B/bench_dataset_load" "${args[@]}"
echo
echo "## baselines (docs/RESULTS.md)"
bash bench/results.sh
