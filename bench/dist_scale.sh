#!/usr/bin/env bash
# dist_scale.sh: data-parallel training (issue 17) on Beauty, 1 process against 2 MPI ranks on this machine, then
# the projection to 8-64 machines (bench/dist_project.py): validation NDCG@10 per epoch, seconds per epoch, bytes
# communicated per step, and the ML-20M shape's iALS compute from bench_ials_scale.
#
#   usage: bash bench/dist_scale.sh [--build build-mpi-rel] [--out /work/runs/mpi] [--epochs 8] [--ials-iters 10]
#                                   [--ml20m-scale 0.25] [--no-ml20m]
# Needs: a Release build with MPI (cmake -S . -B build-mpi-rel -DCMAKE_BUILD_TYPE=Release; make the crec and
# bench_ials_scale targets), mpirun (openmpi-bin), the Beauty sequences in $CREC_SHARED_DATA (default
# ../shared/data). The 1-process runs use 2 threads, the 2-rank runs 1 thread per rank: the same 2 cores.
set -euo pipefail
BUILD=build-mpi-rel OUT=/work/runs/mpi EPOCHS=8 ITERS=10 SCALE=0.25 ML20M=1
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --ials-iters) ITERS=$2; shift 2 ;;
    --ml20m-scale) SCALE=$2; shift 2 ;;
    --no-ml20m) ML20M=0; shift ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "dist_scale.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
CREC=$(realpath "$BUILD/crec")
DATA=${CREC_SHARED_DATA:-$(dirname "$0")/../../shared/data}
mkdir -p "$OUT"
export CREC_NO_PROGRESS=1 OMP_WAIT_POLICY=passive
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_mpi_yield_when_idle=1
MPI=(mpirun --oversubscribe --bind-to none -np 2 -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY -x CREC_NO_PROGRESS)
echo "# dist_scale.sh $(date -u +%FT%TZ), commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo -), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -s "$OUT/beauty.crecds" ] || "$CREC" data import --format sequences --input "$DATA/amazon-beauty/Beauty.txt" \
  --out "$OUT/beauty.crecds"
# cpu: user / sys / wall seconds of the command (for mpirun: of mpirun and its children, both ranks)
timed() {
  local log=$1; shift
  local TIMEFORMAT='cpu: user %U sys %S wall %R'
  { time "$@" 2>"$log"; } 2>"$log.time" || { cat "$log"; return 1; }
  cat "$log.time" >>"$log"; rm -f "$log.time"
}
SA0=(--model sasrec --set dim=64 --set blocks=2 --set lr=0.005 --set dropout=0.5 --verbose)
SA=("${SA0[@]}" --set epochs="$EPOCHS" --set patience="$EPOCHS")
echo "# sasrec, 1 process, 2 threads"
timed "$OUT/sasrec1.log" env OMP_NUM_THREADS=2 "$CREC" train --data "$OUT/beauty.crecds" "${SA[@]}" --threads 2 \
  --out "$OUT/sasrec1.crecm"
echo "# sasrec, 2 ranks, 1 thread each"
timed "$OUT/sasrec2.log" "${MPI[@]}" "$CREC" train --data "$OUT/beauty.crecds" "${SA[@]}" --threads 1 --dist \
  --out "$OUT/sasrec2.crecm"
echo "# sasrec loss=ssm (sampled softmax), 2 ranks, 1 epoch: only the touched item rows travel"
timed "$OUT/sasrec_ssm2.log" "${MPI[@]}" "$CREC" train --data "$OUT/beauty.crecds" "${SA0[@]}" \
  --set epochs=1 --set loss=ssm --threads 1 --dist --out "$OUT/sasrec_ssm2.crecm"
grep "MB/step" "$OUT/sasrec_ssm2.log"
IA=(--model ials --set iters="$ITERS" --verbose)
echo "# ials, 1 process / 2 ranks"
timed "$OUT/ials1.log" env OMP_NUM_THREADS=2 "$CREC" train --data "$OUT/beauty.crecds" "${IA[@]}" --threads 2 \
  --out "$OUT/ials1.crecm"
timed "$OUT/ials2.log" "${MPI[@]}" "$CREC" train --data "$OUT/beauty.crecds" "${IA[@]}" --threads 1 --dist \
  --out "$OUT/ials2.crecm"
for k in 1 2; do "$CREC" eval --data "$OUT/beauty.crecds" --model "$OUT/ials$k.crecm" --k 10 >"$OUT/ials$k.eval" 2>&1; done
echo "# ials test metrics, 1 process then 2 ranks:"; grep -h -A1 "NDCG" "$OUT/ials1.eval" "$OUT/ials2.eval" || true
PROJ=()
if [ "$ML20M" = 1 ]; then
  echo "# bench_ials_scale --scale $SCALE --factors 64 --reps 1 --threads 2"
  "$(dirname "$CREC")/bench_ials_scale" --threads 2 --factors 64 --reps 1 --scale "$SCALE" | tee "$OUT/ials_scale.log"
  # the first row at 64 factors: columns factors, prec, s/iter, users s, items s, CPU s/iter, ...
  cpu=$(awk '$1 == 64 && $2 ~ /^fp32$|^[0-9.]+$/ {print ($2 == "fp32" ? $6 : $5); exit}' "$OUT/ials_scale.log")
  [ -n "$cpu" ] && PROJ=(--ml20m-cpu "$cpu" --ml20m-scale "$SCALE")
fi
python3 "$(dirname "$0")/dist_project.py" --sasrec1 "$OUT/sasrec1.log" --sasrec2 "$OUT/sasrec2.log" \
  --ials1 "$OUT/ials1.log" --ials2 "$OUT/ials2.log" --ials-iters "$ITERS" "${PROJ[@]}" | tee "$OUT/projection.md"
