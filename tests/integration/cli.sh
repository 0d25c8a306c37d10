#!/usr/bin/env bash
# cli.sh: drives the real crec binary end to end: help texts, synth -> info -> train -> eval -> recommend ->
# compare, imports of each format, and the errors a user sees for bad input. Usage: cli.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: cli.sh /path/to/crec}")
DATA=${CREC_TEST_DATA:-$(dirname "$0")/../data}/cli
T=$(mktemp -d /tmp/crec-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -20; }
# expect NAME EXIT-CODE PATTERN -- command...   (PATTERN grep -E over stdout+stderr; '' = any)
expect() {
  local name=$1 code=$2 pat=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then bad "$name (exit $rc, want $code)" "$out"; return; fi
  if [ -n "$pat" ] && ! grep -qE -- "$pat" <<<"$out"; then bad "$name (no /$pat/)" "$out"; return; fi
  ok "$name"
}

# help on every command
expect "crec --help" 0 "usage: crec <command>" -- "$CREC" --help
expect "crec with no args is a usage error" 2 "usage" -- "$CREC"
expect "unknown command" 2 "unknown command 'frobnicate'" -- "$CREC" frobnicate
for c in "data" "data synth" "data import" "data info" "data fetch" "train" "eval" "recommend" "compare" "models" \
         "demo" "version" "bench"; do
  # shellcheck disable=SC2086
  expect "crec $c --help" 0 "usage: crec" -- "$CREC" $c --help
done
expect "version names the BLAS core" 0 "blas: .*core" -- "$CREC" version
expect "models lists itemknn with params" 0 "itemknn.*neighbours" -- "$CREC" models
expect "models --json" 0 '^\[\{"name": "pop"' -- "$CREC" models --json

# the benchmark programs beside crec: --help prints their usage and exits 0, an unknown flag is a usage error (2),
# and neither may crash (two of them once died of SIGFPE on --help)
nb=0
for b in "$(dirname "$CREC")"/bench_*; do
  [ -x "$b" ] || continue
  nb=$((nb + 1))
  expect "$(basename "$b") --help" 0 "^usage: " -- "$b" --help
  expect "$(basename "$b") with an unknown flag" 2 "usage: " -- "$b" --no-such-flag
done
[ "$nb" -gt 0 ] || echo "skip - no bench_* programs beside $CREC (not built)"

# synth -> info -> train -> eval -> recommend
expect "data synth" 0 "600 users, 300 items" -- "$CREC" data synth --users 600 --items 300 --out "$T/s.crecds"
expect "data info --json" 0 '"users": 600, "items": 300' -- "$CREC" data info "$T/s.crecds" --json
expect "data info table" 0 "pop. Gini" -- "$CREC" data info "$T/s.crecds"
expect "synth is deterministic" 0 "" -- "$CREC" data synth --users 600 --items 300 --out "$T/s2.crecds"
if cmp -s "$T/s.crecds" "$T/s2.crecds"; then ok "same seed, same bytes"; else bad "same seed, same bytes"; fi
for m in pop itemknn markov random; do
  expect "train $m" 0 "$m on .* -> " -- "$CREC" train --data "$T/s.crecds" --model "$m" --out "$T/$m.crecm"
done
expect "eval table shows the protocol" 0 "full ranking over 300 items, seen items excluded, split=loo" -- \
  "$CREC" eval --data "$T/s.crecds" --model "$T/itemknn.crecm"
out=$("$CREC" eval --data "$T/s.crecds" --model "$T/itemknn.crecm" --json 2>/dev/null | tr -d ' \n')
if grep -qE '^\{"protocol":\{"ranking":"full".*"metrics":\{.*"NDCG@10":0\.[0-9]+.*"users":600' <<<"$out"; then
  ok "eval --json"; else bad "eval --json" "$out"; fi
out=$("$CREC" eval --data "$T/s.crecds" --model "$T/pop.crecm" --sampled 50 2>&1)
if grep -q "SAMPLED" <<<"$out" && ! grep -E '^ *[0-9]+ ' <<<"$out" | grep -vq "(sampled)"; then
  ok "sampled eval labels every metric line"; else bad "sampled eval labels every metric line" "$out"; fi
expect "eval --per-user A" 0 "" -- "$CREC" eval --data "$T/s.crecds" --model "$T/pop.crecm" --per-user "$T/pop.tsv"
expect "eval --per-user B" 0 "" -- "$CREC" eval --data "$T/s.crecds" --model "$T/markov.crecm" --per-user "$T/mk.tsv"
lines=$(wc -l <"$T/pop.tsv")
if [ "$lines" = 601 ]; then ok "per-user file has a header and 600 users"; else bad "per-user lines: $lines"; fi
expect "compare finds markov better" 0 "significant at 0.05" -- "$CREC" compare "$T/pop.tsv" "$T/mk.tsv" --metric NDCG@10
expect "compare --json" 0 '"mean_diff": [0-9.]+' -- "$CREC" compare "$T/pop.tsv" "$T/mk.tsv" --json
expect "compare unknown metric" 1 "no column 'XYZ@3'" -- "$CREC" compare "$T/pop.tsv" "$T/mk.tsv" --metric XYZ@3
expect "recommend --user" 0 "^  1\. i[0-9]+ .*\(" -- "$CREC" recommend --data "$T/s.crecds" --model "$T/markov.crecm" --user u1 -k 5
expect "recommend --json" 0 '"items": \[\{"rank": 1, "item": "i[0-9]+", "score": .*"title": ".*"attributes": \["topic:' -- \
  "$CREC" recommend --data "$T/s.crecds" --model "$T/itemknn.crecm" --user u2 --json
expect "recommend --history (anonymous)" 0 "user \(anonymous\) \(2 events" -- \
  "$CREC" recommend --data "$T/s.crecds" --model "$T/markov.crecm" --history "i1, i2"
out=$("$CREC" recommend --data "$T/s.crecds" --model "$T/pop.crecm" --history "i1,i2" -k 300 2>&1)
if ! grep -qE '^ *[0-9]+\. (i1|i2) ' <<<"$out"; then ok "history items are excluded"; else bad "history items are excluded" "$out"; fi
expect "recommend unknown user falls back" 0 "not in" -- "$CREC" recommend --data "$T/s.crecds" --model "$T/pop.crecm" --user nobody

# the cold-item protocol: held-out items ranked among the items without training events
expect "train on a cold-items split" 0 "split cold-items:0.1:0.05:7" -- \
  "$CREC" train --data "$T/s.crecds" --model pop --split cold-items:0.1:0.05:7 --out "$T/cold.crecm"
expect "eval --candidates untrained" 0 "full ranking over items without training events \(45 of 300 items\).*split=cold-items" -- \
  "$CREC" eval --data "$T/s.crecds" --model "$T/cold.crecm" --candidates untrained --k 10
expect "--candidates with --sampled is refused" 1 "do not combine" -- \
  "$CREC" eval --data "$T/s.crecds" --model "$T/cold.crecm" --candidates untrained --sampled 10

# training from the SQLite store behind crec serve
expect "db import" 0 "" -- "$CREC" db import --db "$T/store.db" --data "$T/s.crecds"
expect "train --db" 0 "pop on .* -> " -- "$CREC" train --db "$T/store.db" --model pop --out "$T/dbpop.crecm"
expect "db export" 0 "" -- "$CREC" db export --db "$T/store.db" --out "$T/export.crecds"
expect "eval a store-trained model" 0 "users=600" -- "$CREC" eval --data "$T/export.crecds" --model "$T/dbpop.crecm" --k 10
expect "train --db on a missing store" 1 "nostore.db" -- "$CREC" train --db "$T/nostore.db" --model pop --out "$T/x.crecm"

# imports of each format
expect "import sequences" 0 "5 users, 6 items, 19 interactions" -- \
  "$CREC" data import --format sequences --input "$DATA/seq.txt" --out "$T/seq.crecds"
expect "import pairs" 0 "3 users, 5 items, 9 interactions" -- \
  "$CREC" data import --format pairs --input "$DATA/pairs.txt" --out "$T/pairs.crecds"
expect "import csv with min-rating" 0 "3 users, [0-9]+ items, 5 interactions" -- \
  "$CREC" data import --format csv --input "$DATA/ratings.csv" --min-rating 4 --out "$T/csv.crecds"
expect "train + eval on an import" 0 "" -- "$CREC" train --data "$T/seq.crecds" --model itemknn --out "$T/seqknn.crecm"
expect "eval on an import" 0 "users=5" -- "$CREC" eval --data "$T/seq.crecds" --model "$T/seqknn.crecm" --k 1,3

# bad input: clear errors, no crash
expect "malformed pairs name file and line" 1 "bad_pairs.txt:3: " -- \
  "$CREC" data import --format pairs --input "$DATA/bad_pairs.txt" --out "$T/bad.crecds"
expect "--skip-bad reports skipped lines" 0 "skipped 2 malformed line" -- \
  "$CREC" data import --format pairs --input "$DATA/bad_pairs.txt" --out "$T/bad.crecds" --skip-bad
expect "missing input file" 1 "nope.txt" -- "$CREC" data import --format pairs --input "$T/nope.txt" --out "$T/x.crecds"
expect "unknown format" 2 "unknown format 'parquet'" -- "$CREC" data import --format parquet --input x --out y
expect "unknown model" 2 "unknown model 'deepfm'" -- "$CREC" train --data "$T/s.crecds" --model deepfm --out "$T/x.crecm"
expect "unknown hyper-parameter" 2 "no parameter 'neighbors'" -- \
  "$CREC" train --data "$T/s.crecds" --model itemknn --set neighbors=5 --out "$T/x.crecm"
# early stopping: with the smallest learning rate validation does not improve after
# epoch 1, so patience 1 stops after epoch 2; min_epochs holds it off until epoch 5
ES=(train --data "$T/s.crecds" --model sasrec --set dim=16 --set blocks=1 --set max_len=20 --set lr=1e-7
    --set epochs=6 --set patience=1 --verbose --out "$T/es.crecm")
n=$("$CREC" "${ES[@]}" 2>&1 | grep -c "^sasrec epoch")
[ "$n" = 2 ] && ok "patience 1 stops after epoch 2" || bad "patience 1 stops after epoch 2 (ran $n epochs)"
n=$("$CREC" "${ES[@]}" --set min_epochs=5 2>&1 | grep -c "^sasrec epoch")
[ "$n" = 5 ] && ok "min_epochs 5 holds patience off until epoch 5" || bad "min_epochs 5 (ran $n epochs)"
expect "bad min_epochs names the key" 2 "min_epochs" -- "$CREC" "${ES[@]}" --set min_epochs=-1
expect "bad split" 2 "bad --split" -- "$CREC" train --data "$T/s.crecds" --model pop --split weird --out "$T/x.crecm"
expect "bad --k" 2 "bad --k" -- "$CREC" eval --data "$T/s.crecds" --model "$T/pop.crecm" --k 5,x
expect "model from another dataset" 1 "different dataset" -- "$CREC" eval --data "$T/seq.crecds" --model "$T/pop.crecm"
head -c 100 /dev/urandom >"$T/garbage.crecm"
expect "garbage model file" 1 "not a valid crec model" -- "$CREC" eval --data "$T/s.crecds" --model "$T/garbage.crecm"
cp "$T/pop.crecm" "$T/flip.crecm"; printf '\x00\x00\x00\x00' | dd of="$T/flip.crecm" bs=1 seek=40 conv=notrunc 2>/dev/null
expect "corrupted model file" 1 "checksum" -- "$CREC" eval --data "$T/s.crecds" --model "$T/flip.crecm"
expect "missing dataset" 1 "no such file" -- "$CREC" eval --data "$T/none.crecds" --model "$T/pop.crecm"
expect "bad number" 2 "bad value for --users" -- "$CREC" data synth --users 12abc --out "$T/x.crecds"

# the main job
( cd "$T" && "$CREC" demo --users 800 --items 400 >"$T/demo.out" 2>&1 ); rc=$?
if [ $rc = 0 ] && grep -q "markov" "$T/demo.out" && grep -q "reproduce any step" "$T/demo.out"; then ok "demo runs"
else bad "demo runs (exit $rc)" "$(cat "$T/demo.out")"; fi

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
