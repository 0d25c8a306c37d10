#!/usr/bin/env bash
# hstu_vs_torch.sh: seconds per HSTU training epoch, crec against a plain PyTorch HSTU (bench/hstu_torch.py) in the
# same run on the same machine, on the long-history set with real time: MovieLens-1M users 1-2999 (487,650 events,
# max_len 200), the reference's ML-1M shape (D 50, 2 blocks, 1 head, dropout 0.2, sampled softmax with 128 uniform
# negatives shared by the batch, batch 128, AdamW lr 0.005). Both use the same threads; each epoch's training time
# is read from the programs' own lines (crec: "train Ns"; PyTorch: "N s wall, N s CPU"), validation excluded.
# Runs PyTorch only where python3-torch is installed (Debian: apt-get install python3-torch).
#
#   bash bench/hstu_vs_torch.sh [--epochs 2] [--threads 2] [--crec build/crec] [--max-len 200] [--dim 50]
set -u
cd "$(dirname "$0")/.."
S=${CREC_SHARED_DATA:-../shared/data}
D=$S/ml-1m/ratings.users-0001-2999.dat
EPOCHS=2 THREADS=2 CREC=build/crec ML=200 DIM=50
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) EPOCHS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --crec) CREC=$2; shift ;;
    --max-len) ML=$2; shift ;;
    --dim) DIM=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$D" ] || { echo "skip: $D not found"; exit 0; }
[ -x "$CREC" ] || { echo "build first (Release): cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/hstu_bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
echo "# HSTU epoch on ML-1M users 1-2999: crec vs PyTorch - $(date -u +%F) - $(nproc) cores - load $(cut -d' ' -f1-3 /proc/loadavg) - commit $(git rev-parse --short HEAD 2>/dev/null)"
"$CREC" data import --format movielens --input "$D" --out "$T/d.crecds" > /dev/null 2>&1 || { echo "import failed" >&2; exit 1; }
start=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$T/crec.time" "$CREC" train --data "$T/d.crecds" --model hstu --threads "$THREADS" --set dim=$DIM --set blocks=2 --set heads=1 \
  --set dropout=0.2 --set max_len=$ML --set loss=ssm --set neg=128 --set batch=128 --set lr=0.005 \
  --set epochs=$EPOCHS --set patience=0 --verbose --out "$T/h.crecm" > "$T/crec.log" 2>&1
end=$(date +%s.%N)
crec_ep=$(sed -n 's/.*epoch \([0-9]*\) .*train \([0-9.]*\)s.*/\2/p' "$T/crec.log" | tr '\n' ' ')
crec_mean=$(echo "$crec_ep" | awk '{s=0; for(i=1;i<=NF;i++) s+=$i; if (NF) printf "%.2f", s/NF}')
echo "crec hstu: training s per epoch: $crec_ep(mean $crec_mean); whole run $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}') s wall, $(awk '{printf "%.1f", $1 + $2}' "$T/crec.time") s CPU, validation included"
PY=/usr/bin/python3
if ! $PY -c 'import torch' 2>/dev/null; then
  echo "PyTorch: skipped (python3-torch not installed)"
  exit 0
fi
torch_out=$($PY bench/hstu_torch.py --data "$D" --epochs "$EPOCHS" --threads "$THREADS" --dim $DIM --max-len $ML)
echo "$torch_out"
torch_mean=$(echo "$torch_out" | sed -n 's/^epoch [0-9]*: *\([0-9.]*\) s wall.*/\1/p' | awk '{s+=$1; n++} END {if (n) printf "%.2f", s/n}')
if [ -n "$crec_mean" ] && [ -n "$torch_mean" ]; then
  echo "ratio: PyTorch / crec = $(awk -v a="$torch_mean" -v b="$crec_mean" 'BEGIN {printf "%.1f", a / b}')x (training s per epoch, same run, $THREADS threads)"
fi
