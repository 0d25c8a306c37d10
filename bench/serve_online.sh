#!/usr/bin/env bash
# serve_online.sh: what `crec serve --online` costs the readers. The synthetic dataset (crec data synth: 3000 users,
# 1500 items), onlinemf trained on it, served with 2 threads; GET recommendations with wrk (-c8), in three phases:
#   A  --online, no writes                     (the read lock alone)
#   B  --online, events posted meanwhile       (the learner takes the write lock per mini-batch)
#   C  no --online, the same events meanwhile  (baseline: the store's writes without learning)
#   D  no --online, no writes; A' --online again (the order's and the machine's noise)
# and the learner's own figures from /metrics (updates, lag, longest write-lock hold, checkpoint time).
# Usage: bench/serve_online.sh [BUILD_DIR (default build)]   Env: DURATION (seconds per phase, default 10),
#        BATCH (events per POST, default 20), FACTORS (default 32), NEG (default 64).
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
CREC=$(realpath "$B/crec")
DURATION=${DURATION:-10} BATCH=${BATCH:-20} FACTORS=${FACTORS:-32} NEG=${NEG:-64}
L=bench/serve
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
T=$(mktemp -d /tmp/crec-online-bench-XXXXXX)
PID=""
trap '[ -n "$PID" ] && { kill $PID; wait $PID; } 2>/dev/null; rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
echo "# crec serve --online: read latency - $(date -u +%F) - $(nproc) cores - load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$CREC" data synth --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model onlinemf --set factors="$FACTORS" --set neg="$NEG" --out "$T/m.crecm" 2>&1 | tail -1 | sed 's/^/  /'
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1

start() {
  "$CREC" serve --db "$T/s.db" --model "$T/m.crecm" --port 0 --threads 2 --sync normal "$@" 2>"$T/serve.log" &
  PID=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$T/serve.log" && break; sleep 0.1; done
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/serve.log" | grep -o '[0-9]*$')
  [ -n "$PORT" ] || { cat "$T/serve.log"; exit 1; }
  U=http://127.0.0.1:$PORT
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null; PID=""; }
reads() {  # label
  wrk -t1 -c8 -d"${DURATION}s" --latency -s $L/online_recs.lua "$U" >"$T/r.txt" 2>&1
  printf '  %-44s %s req/s  p50 %s  p90 %s  p99 %s\n' "$1" "$(awk '/Requests\/sec/ {print $2}' "$T/r.txt")" \
    "$(awk '$1 == "50%" {print $2}' "$T/r.txt")" "$(awk '$1 == "90%" {print $2}' "$T/r.txt")" "$(awk '$1 == "99%" {print $2}' "$T/r.txt")"
}
writes() {  # in the background for the phase
  BATCH=$BATCH USERS=4000 ITEMS=1500 ITEM_PREFIX=i wrk -t1 -c2 -d"${DURATION}s" -s $L/events.lua "$U" >"$T/w.txt" 2>&1 &
  WPID=$!
}
echo "## GET /v1/users/u{random}/recommendations?k=10, wrk -t1 -c8 -d${DURATION}s; writes: events.lua BATCH=$BATCH -c2 (user ids 1..4000: all new to the model)"
start --online --online-sync 2
wrk -t1 -c4 -d2s -s $L/online_recs.lua "$U" >/dev/null 2>&1
reads "A --online, no writes"
writes; reads "B --online, events learned meanwhile"; wait $WPID
echo "    events/s posted in B: $(awk -v b="$BATCH" '/Requests\/sec/ {printf "%.0f", $2 * b}' "$T/w.txt")"
sleep 1
curl -s "$U/metrics" | grep -E "^crec_online_(updates_total|batches_total|update_lag_seconds|update_lag_max_seconds|lock_hold_max_seconds|sync_seconds|users|items|table_rows|syncs_total) " | sed 's/^/    /'
stop
start
wrk -t1 -c4 -d2s -s $L/online_recs.lua "$U" >/dev/null 2>&1
writes; reads "C no --online, the same writes meanwhile"; wait $WPID
reads "D no --online, no writes"
stop
start --online
wrk -t1 -c4 -d2s -s $L/online_recs.lua "$U" >/dev/null 2>&1
reads "A' --online again (checkpoint loaded), no writes"
stop
