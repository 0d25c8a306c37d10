#!/usr/bin/env bash
# results.sh: the baseline table of docs/RESULTS.md - every first model on the synthetic default, ML-100K and
# Amazon Beauty (leave-one-out, full ranking), with wall times. Real datasets come from ../shared/data and
# are skipped when absent. Prints markdown rows; each row's command is printed above it.
set -u
cd "$(dirname "$0")/.."
CREC=${CREC:-build/crec}
S=${CREC_SHARED_DATA:-../shared/data}
W=$(mktemp -d /tmp/crec-results-XXXXXX)
trap 'rm -rf "$W"' EXIT
export CREC_NO_PROGRESS=1
MODELS=${MODELS:-"random pop itemknn markov"}

ms() { date +%s.%N; }
row() { # name data.crecds model [train options...]
  local name=$1 data=$2 model=$3; shift 3
  local t0 t1 t2 out
  t0=$(ms)
  "$CREC" train --data "$data" --model "$model" --out "$W/m.crecm" "$@" 2>/dev/null || { echo "| $name | $model | train failed |"; return; }
  t1=$(ms)
  out=$("$CREC" eval --data "$data" --model "$W/m.crecm" --k 10 --json)
  t2=$(ms)
  python3 - "$name" "$model" "$t0" "$t1" "$t2" "$out" "$*" <<'PY' 2>/dev/null || echo "| $name | $model | $(echo "$out" | head -c 300) |"
import json, sys
name, model, t0, t1, t2, out, opts = sys.argv[1:]
r = json.loads(out)
m = r["metrics"]
print(f"| {name} | {model} {opts} | {m['HR@10']:.4f} | {m['NDCG@10']:.4f} | {m['Coverage@10']:.3f} | "
      f"{float(t1)-float(t0):.2f} | {float(t2)-float(t1):.2f} | {r['users']} |")
PY
}

echo "| data | model | HR@10 | NDCG@10 | Coverage@10 | train s | eval s | users |"
echo "|---|---|---|---|---|---|---|---|"
"$CREC" data synth --out "$W/synth.crecds" 2>/dev/null
for m in $MODELS; do row "synth (default)" "$W/synth.crecds" "$m"; done
if [ -d "$S/ml-100k" ]; then
  "$CREC" data import --format movielens --input "$S/ml-100k" --out "$W/ml100k.crecds" 2>/dev/null
  for m in $MODELS; do row "ML-100K" "$W/ml100k.crecds" "$m"; done
  row "ML-100K" "$W/ml100k.crecds" itemknn --set k=500   # chosen on validation NDCG@10 (docs/RESULTS.md)
fi
if [ -f "$S/amazon-beauty/Beauty.txt" ]; then
  "$CREC" data import --format sequences --input "$S/amazon-beauty/Beauty.txt" \
    --items "$S/amazon-beauty/Beauty_item2attributes.json" --out "$W/beauty.crecds" 2>/dev/null
  for m in $MODELS; do row "Beauty" "$W/beauty.crecds" "$m"; done
  row "Beauty" "$W/beauty.crecds" itemknn --set k=500 --set shrink=10   # chosen on validation NDCG@10
fi
