#!/usr/bin/env bash
# fm.sh: the factorization machine and pointwise evaluation through the real crec binary, on a small MovieLens-
# format dataset written here (u.data, u.item with genre flags, u.user with gender/age/occupation) whose ratings
# depend on gender x genre: import keeps ratings and user features, `crec eval --task rating|click` reports
# RMSE/MAE and AUC/LogLoss (table and JSON), fm beats the global mean, a loaded fm serves cold users, and the
# option errors. Usage: fm.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: fm.sh /path/to/crec}")
T=$(mktemp -d /tmp/crec-fm-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -20; }
expect() {
  local name=$1 code=$2 pat=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then bad "$name (exit $rc, want $code)" "$out"; return; fi
  if [ -n "$pat" ] && ! grep -qE -- "$pat" <<<"$out"; then bad "$name (no /$pat/)" "$out"; return; fi
  ok "$name"
}

# 300 users (odd: F, even: M), 80 items (odd: Drama, even: Comedy); F likes Drama, M likes Comedy:
# rating = 3 +- 1.5 + noise in {-1, 0, 1} (deterministic LCG), rounded into 1..5; 25 ratings per user
mkdir -p "$T/ml"
awk 'BEGIN {
  s = 12345
  for (u = 1; u <= 300; u++) {
    printf "%d|%d|%s|%s|00000\n", u, 20 + u % 40, (u % 2 ? "F" : "M"), (u % 3 ? "writer" : "student") > "'"$T"'/ml/u.user"
    for (k = 0; k < 25; k++) {
      s = (s * 1103515245 + 12345) % 2147483648; i = 1 + int(s / 2147483648 * 80)
      s = (s * 1103515245 + 12345) % 2147483648; e = int(s / 2147483648 * 3) - 1
      r = 3 + ((u % 2) == (i % 2) ? 1.5 : -1.5) + e; r = int(r + 0.5); if (r < 1) r = 1; if (r > 5) r = 5
      printf "%d\t%d\t%d\t%d\n", u, i, r, 880000000 + u * 100 + k > "'"$T"'/ml/u.data"
    }
  }
  for (i = 1; i <= 80; i++) {
    g = ""; for (j = 0; j < 19; j++) g = g "|" ((i % 2 && j == 8) || (!(i % 2) && j == 5) ? 1 : 0)
    printf "%d|Movie %d (1995)|01-Jan-1995||http://x%s\n", i, i, g > "'"$T"'/ml/u.item"
  }
}'
D="$T/ml.crecds"
expect "import movielens with user features" 0 "300 users, 80 items, 7500 interactions" -- \
  "$CREC" data import --format movielens --input "$T/ml" --out "$D"
expect "info shows ratings and user features" 0 "user features +[0-9]+" -- "$CREC" data info "$D"
expect "models lists fm" 0 "fm .*factorization machine" -- "$CREC" models

S=random:0.2:0.1:7
expect "train fm (rating)" 0 "fm on .* -> " -- "$CREC" train --data "$D" --model fm --split $S --out "$T/fm.crecm"
expect "train global mean (fm epochs=0 init_std=0)" 0 "" -- \
  "$CREC" train --data "$D" --model fm --split $S --set epochs=0 --set init_std=0 --set task=rating --out "$T/mean.crecm"
expect "eval --task rating table" 0 "pointwise rating prediction: .*split=random:0.2:0.1:7" -- \
  "$CREC" eval --data "$D" --model "$T/fm.crecm" --task rating
rm_fm=$("$CREC" eval --data "$D" --model "$T/fm.crecm" --task rating --json 2>/dev/null | tr -d ' \n' | grep -oE '"RMSE":[0-9.]+' | cut -d: -f2)
rm_mean=$("$CREC" eval --data "$D" --model "$T/mean.crecm" --task rating --json 2>/dev/null | tr -d ' \n' | grep -oE '"RMSE":[0-9.]+' | cut -d: -f2)
if [ -n "$rm_fm" ] && [ -n "$rm_mean" ] && awk -v a="$rm_fm" -v b="$rm_mean" 'BEGIN { exit !(a < 0.6 * b) }'; then
  ok "fm RMSE $rm_fm < 0.6 x global mean $rm_mean"; else bad "fm RMSE '$rm_fm' vs global mean '$rm_mean'"; fi
out=$("$CREC" eval --data "$D" --model "$T/fm.crecm" --task rating --json 2>/dev/null | tr -d ' \n')
if grep -qE '^\{"protocol":\{"task":"rating".*"model":\{"name":"fm".*"task":"rating".*"metrics":\{"RMSE":[0-9.]+,"MAE":[0-9.]+\},"users":[0-9]+,"events":[0-9]+' <<<"$out"; then
  ok "eval --task rating --json"; else bad "eval --task rating --json" "$out"; fi

expect "train fm (click)" 0 "" -- "$CREC" train --data "$D" --model fm --split $S --set task=click --out "$T/fmc.crecm"
out=$("$CREC" eval --data "$D" --model "$T/fmc.crecm" --task click --neg 2 --json 2>/dev/null | tr -d ' \n')
if grep -qE '"negatives_per_positive":2.*"metrics":\{"AUC":0\.[0-9]+,"LogLoss":[0-9.]+(,"GAUC":[0-9.]+)?\}.*"negatives":[0-9]+' <<<"$out"; then
  ok "eval --task click --json"; else bad "eval --task click --json" "$out"; fi
expect "eval --task click --threshold 4" 0 "positives = held-out events with value >= 4" -- \
  "$CREC" eval --data "$D" --model "$T/fmc.crecm" --task click --threshold 4
expect "eval ranking still the default" 0 "full ranking over 80 items" -- "$CREC" eval --data "$D" --model "$T/fmc.crecm"

# cold users: no training events, gender known; with user features the gender x genre signal reaches them
for uf in 0 1; do
  expect "train fm cold-users use_user_features=$uf" 0 "" -- "$CREC" train --data "$D" --model fm \
    --split cold-users:0.2:0:3 --set task=rating --set use_user_features=$uf --set drop_ids=0.3 --out "$T/cu$uf.crecm"
done
c0=$("$CREC" eval --data "$D" --model "$T/cu0.crecm" --task rating --json 2>/dev/null | tr -d ' \n' | grep -oE '"RMSE":[0-9.]+' | cut -d: -f2)
c1=$("$CREC" eval --data "$D" --model "$T/cu1.crecm" --task rating --json 2>/dev/null | tr -d ' \n' | grep -oE '"RMSE":[0-9.]+' | cut -d: -f2)
if [ -n "$c0" ] && [ -n "$c1" ] && awk -v a="$c1" -v b="$c0" 'BEGIN { exit !(a < 0.7 * b) }'; then
  ok "cold users: RMSE $c1 with user features < 0.7 x $c0 without"; else bad "cold users: '$c1' vs '$c0'"; fi

# option errors
expect "eval --task bogus" 2 "--task is rating or click" -- "$CREC" eval --data "$D" --model "$T/fm.crecm" --task bogus
expect "eval --task with --sampled" 2 "does not combine" -- \
  "$CREC" eval --data "$D" --model "$T/fm.crecm" --task click --sampled 10
expect "eval --neg 0" 2 "bad value for --neg" -- "$CREC" eval --data "$D" --model "$T/fm.crecm" --task click --neg 0
expect "train fm bad factors" 2 "" -- "$CREC" train --data "$D" --model fm --set factors=0 --out "$T/x.crecm"

echo "fm.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
