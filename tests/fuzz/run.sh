#!/usr/bin/env bash
# run.sh: one run of a crec libFuzzer target. Fills the target's corpus folder in the build tree from
# tests/fuzz/seeds_NAME (fuzz_request: seeds/) and, for the binary readers, from files the built crec program
# writes (a tiny synthetic dataset, a tiny MovieLens import with user features, one checkpoint per model type),
# then fuzzes for SECONDS. ctest runs it for 10 s per target; bench/fuzz.sh for longer.
# Usage: tests/fuzz/run.sh NAME BUILD_DIR SECONDS [libFuzzer flags...]   NAME: request load crecds crecm
set -euo pipefail
name=$1
B=$(cd "$2" && pwd)
secs=$3
shift 3
src=$(cd "$(dirname "$0")" && pwd)
fz=$B/tests/fuzz/fuzz_$name
[ -x "$fz" ] || { echo "$fz not built (needs clang; see tests/fuzz/CMakeLists.txt)" >&2; exit 1; }
if [ "$name" = request ]; then seeds=$src/seeds corpus=$B/tests/fuzz/corpus
else seeds=$src/seeds_$name corpus=$B/tests/fuzz/corpus_$name; fi
mkdir -p "$corpus"
if [ -d "$seeds" ]; then cp -n "$seeds"/* "$corpus"/; fi

# Binary seeds: rewritten when the crec program is newer than them (the file formats follow the program).
gen_binary_seeds() {
  local crec=$B/crec stamp=$corpus/seed-synth.crecds
  [ -x "$crec" ] || { echo "$crec not built: no generated seeds" >&2; return 0; }
  [ -f "$stamp" ] && [ ! "$crec" -nt "$stamp" ] && return 0
  local t
  t=$(mktemp -d)
  exec 3>&1 4>&2 >"$t/log" 2>&1 # quiet unless a step fails
  trap 'exec 1>&3 2>&4; cat "$t/log"; rm -rf "$t"; echo "run.sh: writing seeds with $crec failed" >&2' ERR
  "$crec" data synth --users 12 --items 10 --topics 2 --attrs 4 --min-len 2 --max-len 5 --out "$t/synth.crecds"
  "$crec" data synth --users 6 --items 5 --topics 1 --attrs 2 --min-len 1 --max-len 4 --p-repeat 0.5 --seed 7 \
    --out "$t/repeat.crecds"
  mkdir "$t/ml"
  printf '1\t10\t4\t100\n1\t20\t3\t101\n2\t10\t5\t102\n2\t30\t1\t103\n3\t20\t4\t104\n3\t30\t2\t105\n' >"$t/ml/u.data"
  printf '10|Alpha (1990)|01-Jan-1990||u|0|1|0\n20|Beta (1991)|01-Jan-1991||u|1|0|1\n30|Gamma|||u|0|0|0\n' >"$t/ml/u.item"
  printf 'none|0\nDrama|1\nComedy|2\n' >"$t/ml/u.genre"
  printf '1|24|M|writer|1\n2|31|F|artist|2\n3|60|M|other|3\n' >"$t/ml/u.user"
  "$crec" data import --format movielens --input "$t/ml" --out "$t/ml.crecds"
  if [ "$name" = crecds ]; then
    cp "$t/synth.crecds" "$stamp"
    cp "$t/repeat.crecds" "$t/ml.crecds" "$corpus"/
  else
    local d=$t/synth.crecds
    for m in pop random itemknn markov ease; do
      "$crec" train --data "$d" --model "$m" --out "$corpus/seed-$m.crecm"
    done
    for m in ials bprmf cml; do
      "$crec" train --data "$d" --model "$m" --set factors=2 --set "$([ $m = ials ] && echo iters || echo epochs)=1" \
        --out "$corpus/seed-$m.crecm"
    done
    "$crec" train --data "$t/ml.crecds" --model fm --set factors=2 --set epochs=1 --out "$corpus/seed-fm.crecm"
    local seq="--set dim=4 --set blocks=1 --set heads=1 --set max_len=4 --set epochs=1"
    "$crec" train --data "$d" --model sasrec $seq --out "$corpus/seed-sasrec.crecm"
    "$crec" train --data "$d" --model bert4rec $seq --out "$corpus/seed-bert4rec.crecm"
    "$crec" train --data "$d" --model gru4rec --set dim=4 --set max_len=4 --set epochs=1 \
      --out "$corpus/seed-gru4rec.crecm"
    cp "$d" "$stamp" # the stamp only: a dataset is not a checkpoint, but a fine wrong-magic input
  fi
  trap - ERR
  exec 1>&3 2>&4 3>&- 4>&-
  rm -rf "$t"
}
case $name in crecds | crecm) gen_binary_seeds ;; esac

cd "$B/tests/fuzz"
exec "$fz" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$@" "$corpus"
