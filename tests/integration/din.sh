#!/usr/bin/env bash
# din.sh: the din and dare click models through the real crec binary, on a small MovieLens-format dataset written
# here: each user leans to odd or even items (70% of its events) and rates exactly those 5, the others 1, with
# event times interleaved across users so that the temporal split holds out every user's latest events. Checks:
# both models train on temporal:0.2:0.1, `crec eval --task click --threshold 4 --labels values` reports AUC, GAUC
# and LogLoss (table and JSON) well above chance, the ranking eval runs over the catalogue, and the errors
# (--labels without --threshold, a bad --labels word, a malformed mlp) name the option. Usage: din.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: din.sh /path/to/crec}")
T=$(mktemp -d /tmp/crec-din-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
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

mkdir -p "$T/ml"
awk 'BEGIN {
  s = 777
  for (u = 1; u <= 200; u++)
    for (k = 0; k < 30; k++) {
      s = (s * 1103515245 + 12345) % 2147483648; own = s / 2147483648 < 0.7
      s = (s * 1103515245 + 12345) % 2147483648; i = 2 * int(s / 2147483648 * 30) + 1
      if ((own && u % 2 == 0) || (!own && u % 2 == 1)) i = i + 1
      printf "%d\t%d\t%d\t%d\n", u, i, own ? 5 : 1, 880000000 + k * 1000 + u > "'"$T"'/ml/u.data"
    }
}'
expect "import" 0 "200 users" -- "$CREC" data import --format movielens --input "$T/ml/u.data" --out "$T/d.crecds"

for m in din dare; do
  expect "$m trains" 0 "" -- "$CREC" train --data "$T/d.crecds" --model $m --split temporal:0.2:0.1 \
    --set dim=8 --set mlp=16 --set att_hidden=8 --set epochs=8 --set lr=0.01 --set batch=64 --seed 3 --out "$T/$m.crecm"
  out=$("$CREC" eval --data "$T/d.crecds" --model "$T/$m.crecm" --task click --threshold 4 --labels values --json 2>&1)
  auc=$(python3 -c 'import json,sys; d=json.load(sys.stdin); m=d["metrics"]; print(m["AUC"], m["GAUC"], m["LogLoss"], d["protocol"]["labels"])' <<<"$out" 2>/dev/null)
  if awk -v a="$auc" 'BEGIN { split(a, x, " "); exit !(x[1] > 0.8 && x[2] > 0.8 && x[3] < 0.6 && x[4] == "values") }'; then
    ok "$m click eval: AUC GAUC LogLoss labels = $auc"
  else
    bad "$m click eval: $auc" "$out"
  fi
  expect "$m click table" 0 "GAUC.*LogLoss" -- "$CREC" eval --data "$T/d.crecds" --model "$T/$m.crecm" --task click \
    --threshold 4 --labels values
  expect "$m ranking eval" 0 "NDCG" -- "$CREC" eval --data "$T/d.crecds" --model "$T/$m.crecm" --k 10
done

expect "--labels needs --threshold" 2 "needs --threshold" -- "$CREC" eval --data "$T/d.crecds" --model "$T/din.crecm" \
  --task click --labels values
expect "--labels word" 2 "values or sampled" -- "$CREC" eval --data "$T/d.crecds" --model "$T/din.crecm" --task click \
  --threshold 4 --labels maybe
expect "bad mlp" 2 "'mlp'" -- "$CREC" train --data "$T/d.crecds" --model dare --set mlp=12,x --out "$T/x.crecm"
expect "att_dim needs decoupled" 2 "'att_dim'" -- "$CREC" train --data "$T/d.crecds" --model din --set att_dim=4 \
  --set dim=8 --out "$T/x.crecm"

echo "din.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
