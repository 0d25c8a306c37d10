#!/usr/bin/env bash
# serve_load.sh: load test of `crec serve` on Amazon Beauty (22,363 users, 12,101 items, 198,502 events) with
# wrk on loopback: recommendation requests/s and latency percentiles, event ingestion rate (batched), and a
# soak (mixed reads and writes, the store growing) that samples the server's RSS to show it stays flat.
# Usage: bench/serve_load.sh [BUILD_DIR (default build)] [--long]   (--long: 10-minute soak instead of 2)
# Env: MODEL=itemknn|markov (default itemknn), THREADS (server threads, default 2), CONNS (default 32),
#      DURATION (seconds per load phase, default 20).
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
SOAK_S=120
[ "${2:-}" = --long ] && SOAK_S=600
CREC=$(realpath "$B/crec")
MODEL=${MODEL:-itemknn} THREADS=${THREADS:-2} CONNS=${CONNS:-32} DURATION=${DURATION:-20}
S=${CREC_SHARED_DATA:-../shared/data}/amazon-beauty
L=bench/serve
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
[ -f "$S/Beauty.txt" ] || { echo "Beauty not found under $S"; exit 1; }
T=$(mktemp -d /tmp/crec-serveload-XXXXXX)
PID=""
trap '[ -n "$PID" ] && { kill $PID; wait $PID; } 2>/dev/null; rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1

echo "# crec serve load test - $(date -u +%F) - $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))" \
     "- commit $(git rev-parse --short HEAD 2>/dev/null) - load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$CREC" data import --format sequences --input "$S/Beauty.txt" --items "$S/Beauty_item2attributes.json" \
  --out "$T/beauty.crecds" 2>&1 | sed 's/^/  /'
"$CREC" train --data "$T/beauty.crecds" --model "$MODEL" --out "$T/m.crecm" 2>&1 | sed 's/^/  /'
"$CREC" db import --db "$T/beauty.db" --data "$T/beauty.crecds" 2>&1 | sed 's/^/  /'

"$CREC" serve --db "$T/beauty.db" --model "$T/m.crecm" --data "$T/beauty.crecds" --port 0 --threads "$THREADS" \
  2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$T/serve.log" && break; sleep 0.1; done
PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/serve.log" | grep -o '[0-9]*$')
[ -n "$PORT" ] || { cat "$T/serve.log"; exit 1; }
U=http://127.0.0.1:$PORT
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }  # clock ticks (1/100 s)

wrk -t1 -c8 -d3s -s $L/recs.lua "$U" >/dev/null 2>&1  # warm-up
echo
echo "## recommendations: GET /v1/users/{random user}/recommendations?k=10 ($MODEL, $THREADS server threads)"
echo "  wrk -t2 -c$CONNS -d${DURATION}s --latency -s $L/recs.lua"
c0=$(cpu)
wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s $L/recs.lua "$U" >"$T/recs.txt" 2>&1
c1=$(cpu)
n=$(grep -o '[0-9]* requests in' "$T/recs.txt" | cut -d' ' -f1)
grep -E "Requests/sec|    (50|90|99)%|Latency  |Non-2xx|Socket errors" "$T/recs.txt" | sed 's/^ */  /'
echo "  server CPU per request: $(( (c1 - c0) * 10000 / (n > 0 ? n : 1) )) us"

echo
echo "## ingestion: POST /v1/events, batches of 100 (one transaction each, synchronous=FULL)"
echo "  BATCH=100 wrk -t1 -c4 -d10s -s $L/events.lua"
BATCH=100 wrk -t1 -c4 -d10s --latency -s $L/events.lua "$U" >"$T/ev.txt" 2>&1
rps=$(grep Requests/sec "$T/ev.txt" | awk '{print $2}')
grep -E "Requests/sec|    (50|99)%|Non-2xx" "$T/ev.txt" | sed 's/^ */  /'
echo "  events/s: $(awk -v r="$rps" 'BEGIN {printf "%.0f", r * 100}')"
echo "  BATCH=1 wrk -t1 -c4 -d5s -s $L/events.lua   (one event per request: bounded by fsync per commit)"
BATCH=1 wrk -t1 -c4 -d5s -s $L/events.lua "$U" 2>&1 | grep -E "Requests/sec" | sed 's/^ */  /'

echo
echo "## soak: ${SOAK_S}s of the mixed load (90% recommendations, 10% event batches of new users), RSS every 10 s"
echo "  wrk -t2 -c16 -d${SOAK_S}s -s $L/mixed.lua"
wrk -t2 -c16 -d"${SOAK_S}s" -s $L/mixed.lua "$U" >"$T/soak.txt" 2>&1 &
W=$!
series=""
for _ in $(seq 1 $((SOAK_S / 10))); do sleep 10; series="$series $(( $(rss) / 1024 ))"; done
wait $W
grep -E "Requests/sec|Non-2xx" "$T/soak.txt" | sed 's/^ */  /'
echo "  RSS (MiB) every 10 s:$series"
echo "  store after the soak: $(curl -s "$U/v1/stats" | jq -c '{users, items, events}' 2>/dev/null)"
kill "$PID"; wait "$PID" 2>/dev/null; PID=""
