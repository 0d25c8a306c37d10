#!/usr/bin/env bash
# growth.sh: how each model's training cost grows with users, items and events (issue 16, "Memory and growth").
#
# For every (dataset, model) cell: `crec train` under /usr/bin/time, leave-one-out split, 2 threads; prints one
# markdown row with the process's CPU seconds (user + sys), wall seconds and peak RSS (MB). The process includes
# loading the .crecds and building the split, so the smallest cells are a floor, not the model alone.
# Iterative models are capped so a cell stays in minutes: the row says "1 epoch" (one pass over the training data
# plus one validation pass over at most VU users) or "1 iteration" (iALS: Gram + all users, Gram + all items,
# then the fold-in eigenbasis); pop, itemknn and ease are whole trainings (they have no epochs).
#
# Datasets: Amazon Beauty (from $CREC_SHARED_DATA, skipped when absent) and synthetic data of MovieLens-20M's
# shape (`crec data synth`: 138,493 users, 26,744 items, histories of 20-268 events asked for, Zipf popularity)
# scaled by SIZES (fractions of users and items together, so events scale about the same way): 1/16 = 8,655
# users x 1,671 items x 648,281 events, 1/4 = 34,623 x 6,686 x 2,777,224 (the generator yields ~75-80 events a
# user, not ML-20M's 144; the row labels give the counts). Sequential models read the last max_len = 50 items
# of a history, so their epoch grows with users x min(length, 50), not with events.
#
# With SEQ_FRACTION=F (e.g. 0.1) the sequential models (sasrec bert4rec gru4rec hstu) are not trained for a whole
# epoch: bench_seq_epoch (BENCH_SEQ) times one optimiser step (the fixed cost: tables, buffers, first touch) and the
# first F of the epoch's steps, and the row gives the epoch estimated as fixed + per-step x steps, per-step =
# (CPU(F) - CPU(1 step)) / (steps(F) - 1), stated as such; no validation pass; peak RSS is the F run's (the real
# tables and buffers); "wall s" is the F run's own.
#
#   usage: bench/growth.sh [--sizes "16 4"] [--models "pop itemknn ..."] [--no-beauty]
#   env:   CREC (binary, default build-rel/crec), CREC_SHARED_DATA (default ../shared/data),
#          GROWTH_DIR (work folder for datasets and checkpoints, default a temporary one), VU (default 1000),
#          SEQ_FRACTION (unset: whole epochs), BENCH_SEQ (default: bench_seq_epoch beside CREC)
# Results: docs/RESULTS.md, "Growth" section.
set -u
cd "$(dirname "$0")/.."
CREC=${CREC:-build-rel/crec}
S=${CREC_SHARED_DATA:-../shared/data}
VU=${VU:-1000}
SIZES="16 4"
MODELS="pop itemknn ease ials bprmf sasrec bert4rec gru4rec hstu"
BEAUTY=1
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --models) MODELS=$2; shift 2 ;;
    --no-beauty) BEAUTY=0; shift ;;
    -h|--help) sed -n 2,28p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "growth.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$CREC" ] || { echo "growth.sh: no crec binary at $CREC (set CREC)" >&2; exit 2; }
BENCH_SEQ=${BENCH_SEQ:-$(dirname "$CREC")/bench_seq_epoch}
if [ -n "${SEQ_FRACTION:-}" ] && [ ! -x "$BENCH_SEQ" ]; then
  echo "growth.sh: SEQ_FRACTION needs bench_seq_epoch at $BENCH_SEQ (set BENCH_SEQ)" >&2; exit 2; fi
[ -x /usr/bin/time ] || { echo "growth.sh: needs GNU time at /usr/bin/time" >&2; exit 2; }
if [ -n "${GROWTH_DIR:-}" ]; then W=$GROWTH_DIR; mkdir -p "$W"; else
  W=$(mktemp -d /tmp/crec-growth-XXXXXX); trap 'rm -rf "$W"' EXIT; fi
export CREC_NO_PROGRESS=1

# per-model settings: "unit|--set options"
opts() {
  case $1 in
    pop) echo "total|" ;;
    itemknn) echo "total|--set k=200" ;;
    ease) echo "total|--set lambda=500" ;;
    ials) echo "1 iteration|--set factors=64 --set iters=1" ;;
    bprmf) echo "1 epoch|--set epochs=1 --set valid_users=$VU" ;;
    sasrec) echo "1 epoch|--set epochs=1 --set valid_users=$VU" ;;
    bert4rec) echo "1 epoch|--set epochs=1 --set valid_users=$VU" ;;
    gru4rec) echo "1 epoch|--set epochs=1 --set valid_users=$VU" ;;
    hstu) echo "1 epoch|--set epochs=1 --set valid_users=$VU" ;;
    *) echo "1 epoch|--set epochs=1" ;;
  esac
}

# a sequential model's epoch estimated from one step and the first SEQ_FRACTION of its steps (see the header)
seq_cell() { # label data.crecds model
  local label=$1 data=$2 model=$3 a b
  a=$(OMP_NUM_THREADS=2 "$BENCH_SEQ" --model "$model" --data "$data" --fraction 0.000001 --threads 2 2>&1 | grep "^steps:")
  b=$(/usr/bin/time -o "$W/time" -f "%e %U %S %M" env OMP_NUM_THREADS=2 "$BENCH_SEQ" --model "$model" --data "$data" \
      --fraction "$SEQ_FRACTION" --threads 2 2>&1 | grep "^steps:")
  if [ -z "$a" ] || [ -z "$b" ]; then echo "| $label | $model | 1 epoch (estimated) | failed | | |"; return; fi
  # "steps:   the first N of the epoch's S steps (...): W s, C CPU-s; ..."
  echo "$a|$b|$(tail -1 "$W/time")" | awk -F'|' -v l="$label" -v m="$model" -v f="$SEQ_FRACTION" '{
    split($1, x, " "); split($2, y, " "); split($3, t, " ")
    n1 = x[4]; s = x[8]
    match($1, /: [0-9.]+ s, [0-9.]+ CPU-s/); c1 = substr($1, RSTART, RLENGTH); sub(/.* s, /, "", c1); sub(/ CPU-s/, "", c1)
    match($2, /: [0-9.]+ s, [0-9.]+ CPU-s/); cf = substr($2, RSTART, RLENGTH); sub(/.* s, /, "", cf); sub(/ CPU-s/, "", cf)
    nf = y[4]; per = nf > n1 ? (cf - c1) / (nf - n1) : 0
    printf "| %s | %s | 1 epoch, estimated: 1 step %.2f CPU-s + %d steps x %.3f (first %d of %d steps timed: %.1f CPU-s) | %.1f | %.1f | %.0f |\n",
      l, m, c1, s - 1, per, nf, s, cf, c1 + (s - 1) * per, t[1], t[4] / 1024 }'
}

cell() { # label data.crecds model
  local label=$1 data=$2 model=$3 o unit sets
  if [ -n "${SEQ_FRACTION:-}" ]; then
    case $model in sasrec|bert4rec|gru4rec|hstu) seq_cell "$label" "$data" "$model"; return ;; esac
  fi
  o=$(opts "$model"); unit=${o%%|*}; sets=${o#*|}
  rm -f "$W/m.crecm" "$W/time"
  # shellcheck disable=SC2086
  if ! /usr/bin/time -o "$W/time" -f "%e %U %S %M" "$CREC" train --data "$data" --model "$model" $sets \
       --threads 2 --out "$W/m.crecm" >/dev/null 2>"$W/err" || [ ! -s "$W/m.crecm" ]; then
    echo "| $label | $model | $unit | failed: $(head -c 200 "$W/err" | tr '\n' ' ') | | |"
  else
    tail -1 "$W/time" | awk -v l="$label" -v m="$model" -v u="$unit" -v s="$sets" \
      '{ printf "| %s | %s | %s | %.1f | %.1f | %.0f |\n", l, m (s == "" ? "" : " `" s "`"), u, $2 + $3, $1, $4 / 1024 }'
  fi
  rm -f "$W/m.crecm"
}

echo "growth.sh: $("$CREC" version 2>/dev/null | head -1); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| data | model | unit | CPU s | wall s | peak MB |"
echo "|---|---|---|---|---|---|"
sets=()
if [ "$BEAUTY" = 1 ]; then
  if [ -f "$S/amazon-beauty/Beauty.txt" ]; then
    [ -f "$W/beauty.crecds" ] || "$CREC" data import --format sequences --input "$S/amazon-beauty/Beauty.txt" \
      --out "$W/beauty.crecds" >/dev/null 2>&1
    sets+=("Beauty (22,363 x 12,101, 198,502 events)|$W/beauty.crecds")
  else
    echo "growth.sh: $S/amazon-beauty/Beauty.txt absent, Beauty skipped" >&2
  fi
fi
for f in $SIZES; do
  nu=$((138493 / f)); ni=$((26744 / f))
  d="$W/ml20m-1of$f.crecds"
  [ -f "$d" ] || "$CREC" data synth --users $nu --items $ni --min-len 20 --max-len 268 --seed 42 --out "$d" \
    >/dev/null 2>&1 || { echo "growth.sh: synth 1/$f failed" >&2; continue; }
  ev=$("$CREC" data info "$d" 2>/dev/null | grep -io "interactions[^0-9]*[0-9,]*" | head -1 | grep -o "[0-9,]*$")
  sets+=("ML-20M shape 1/$f ($nu x $ni, ${ev:-?} events)|$d")
done
for s in "${sets[@]}"; do
  label=${s%%|*}; data=${s#*|}
  for m in $MODELS; do cell "$label" "$data" "$m"; done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
