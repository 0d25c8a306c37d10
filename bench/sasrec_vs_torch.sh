#!/usr/bin/env bash
# sasrec_vs_torch.sh: seconds per SASRec epoch on Amazon Beauty, crec (build/bench_sasrec_epoch) against a plain
# PyTorch SASRec (bench/sasrec_torch.py) in the same run on the same machine, in the original configuration (width
# 50, 2 blocks, 1 head, max_len 50, batch 128, BCE with one negative per position). Runs PyTorch only where
# python3-torch is installed (Debian: apt-get install python3-torch); otherwise prints crec's figures and says so.
#
#   bash bench/sasrec_vs_torch.sh [--epochs 3] [--threads 2] [--ce]   (--ce: full cross-entropy, width 64, batch 256)
set -u
cd "$(dirname "$0")/.."
S=${CREC_SHARED_DATA:-../shared/data}
D=$S/amazon-beauty/Beauty.txt
EPOCHS=3 THREADS=2 CE=0
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) EPOCHS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --ce) CE=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$D" ] || { echo "skip: $D not found"; exit 0; }
[ -x build/bench_sasrec_epoch ] || { echo "build first: cmake --build build" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if [ "$CE" = 1 ]; then
  cargs=(--set loss=ce --set dim=64 --set batch=256) targs=(--loss ce --dim 64 --batch 256)
else
  cargs=() targs=()
fi
echo "# SASRec epoch on Beauty: crec vs PyTorch - $(date -u +%F) - $(nproc) cores - commit $(git rev-parse --short HEAD 2>/dev/null)"
crec_out=$(build/bench_sasrec_epoch --data "$D" --epochs "$EPOCHS" --threads "$THREADS" "${cargs[@]}")
echo "$crec_out"
crec_s=$(echo "$crec_out" | sed -n 's/^epoch: *\([0-9.]*\) s.*/\1/p')
PY=/usr/bin/python3  # Debian's python, where python3-torch installs
if ! $PY -c 'import torch' 2>/dev/null; then
  echo "PyTorch: skipped (python3-torch not installed)"
  exit 0
fi
torch_out=$($PY bench/sasrec_torch.py --data "$D" --epochs "$EPOCHS" --threads "$THREADS" "${targs[@]}")
echo "$torch_out"
torch_s=$(echo "$torch_out" | sed -n 's/^epoch: *\([0-9.]*\) s.*/\1/p')
python3 -c "print(f'ratio: PyTorch {float(\"$torch_s\"):.2f} s / crec {float(\"$crec_s\"):.2f} s per epoch = {float(\"$torch_s\") / float(\"$crec_s\"):.1f}x')"
