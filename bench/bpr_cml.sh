#!/usr/bin/env bash
# bpr_cml.sh: the "BPR-MF and CML" tables of docs/RESULTS.md. Leave-one-out with full ranking (synthetic default,
# ML-100K, Amazon Beauty) and the cold-item protocol (cold-items:0.1:0.05:42 split, `crec eval --candidates
# untrained`: only items without training events are ranked) against pop, random and item-kNN, with wall times.
# Real datasets come from ../shared/data and are skipped when absent. Prints markdown rows.
set -u
cd "$(dirname "$0")/.."
CREC=${CREC:-build/crec}
S=${CREC_SHARED_DATA:-../shared/data}
W=$(mktemp -d /tmp/crec-bprcml-XXXXXX)
trap 'rm -rf "$W"' EXIT
export CREC_NO_PROGRESS=1
COLD=cold-items:0.1:0.05:42

ms() { date +%s.%N; }
row() { # name data.crecds split model "eval options" [train options...]
  local name=$1 data=$2 split=$3 model=$4 eopts=$5; shift 5
  local t0 t1 t2 out
  t0=$(ms)
  "$CREC" train --data "$data" --split "$split" --model "$model" --out "$W/m.crecm" "$@" 2>/dev/null ||
    { echo "| $name | $split | $model | train failed |"; return; }
  t1=$(ms)
  # shellcheck disable=SC2086
  out=$("$CREC" eval --data "$data" --model "$W/m.crecm" --k 10 --json $eopts)
  t2=$(ms)
  python3 - "$name" "$split" "$model" "$t0" "$t1" "$t2" "$out" "$*" <<'PY' 2>/dev/null || echo "| $name | $model | $(echo "$out" | head -c 300) |"
import json, sys
name, split, model, t0, t1, t2, out, opts = sys.argv[1:]
r = json.loads(out)
m = r["metrics"]
print(f"| {name} | {split} | {model} {opts} | {m['HR@10']:.4f} | {m['NDCG@10']:.4f} | "
      f"{float(t1)-float(t0):.2f} | {float(t2)-float(t1):.2f} | {r['users']} |")
PY
}

both() { # name data.crecds [itemknn options...]: the loo rows and the cold rows of one dataset
  local name=$1 data=$2; shift 2
  row "$name" "$data" loo pop ""
  row "$name" "$data" loo itemknn "" "$@"
  row "$name" "$data" loo bprmf ""
  row "$name" "$data" loo cml ""
  row "$name" "$data" loo cml "" --set features=0
  [ "$name" = synth ] && return
  for m in random pop; do row "$name" "$data" $COLD $m "--candidates untrained"; done
  row "$name" "$data" $COLD itemknn "--candidates untrained" "$@"
  row "$name" "$data" $COLD bprmf "--candidates untrained"
  row "$name" "$data" $COLD cml "--candidates untrained" --set features=0
  row "$name" "$data" $COLD cml "--candidates untrained"
}

echo "| data | split | model | HR@10 | NDCG@10 | train s | eval s | users |"
echo "|---|---|---|---|---|---|---|---|"
"$CREC" data synth --out "$W/synth.crecds" 2>/dev/null
both synth "$W/synth.crecds"
if [ -d "$S/ml-100k" ]; then
  "$CREC" data import --format movielens --input "$S/ml-100k" --out "$W/ml100k.crecds" 2>/dev/null
  both ML-100K "$W/ml100k.crecds" --set k=500
fi
if [ -f "$S/amazon-beauty/Beauty.txt" ]; then
  "$CREC" data import --format sequences --input "$S/amazon-beauty/Beauty.txt" \
    --items "$S/amazon-beauty/Beauty_item2attributes.json" --out "$W/beauty.crecds" 2>/dev/null
  both Beauty "$W/beauty.crecds" --set k=500 --set shrink=10
fi
