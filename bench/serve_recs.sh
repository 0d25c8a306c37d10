#!/usr/bin/env bash
# serve_recs.sh: server CPU per recommendation request, and latency, for one or two builds of `crec serve` in
# the same run (the second is the reference, e.g. the previous commit built elsewhere), on Amazon Beauty with
# itemknn (or MODEL=...), wrk on loopback on the same cores.
#   server CPU per request = (utime + stime of the server process over the wrk run) / requests answered
# which is steadier than requests/s on a shared machine. Each build is measured ROUNDS times, alternating.
# Usage: bench/serve_recs.sh NEW_BUILD_DIR [REFERENCE_BUILD_DIR]
# Env: MODEL (itemknn), THREADS (server threads, 2), CONNS (32), DURATION (s per run, 10), ROUNDS (2),
#      WARMUP (s of wrk -c8 before the measured run, 2; each run starts a fresh server, so a longer warm-up
#      measures a server whose history cache holds most users - the steady state - and a short one its first
#      seconds after a start), SERVE_ARGS (extra arguments for the NEW server, e.g. "--history-cache 0"),
#      WORK (a directory for the data, the stores and the logs; default a temporary one, removed at the end),
#      PERF=1 (perf record -g the NEW server during its first run; the report goes to WORK/perf.txt).
set -u
cd "$(dirname "$0")/.."
NEW=$(realpath "$1")/crec
REF=${2:+$(realpath "$2")/crec}
MODEL=${MODEL:-itemknn} THREADS=${THREADS:-2} CONNS=${CONNS:-32} DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-2} SERVE_ARGS=${SERVE_ARGS:-}
S=${CREC_SHARED_DATA:-../shared/data}/amazon-beauty
L=$(pwd)/bench/serve
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
[ -f "$S/Beauty.txt" ] || { echo "Beauty not found under $S"; exit 1; }
if [ -n "${WORK:-}" ]; then T=$WORK; mkdir -p "$T"; else T=$(mktemp -d /tmp/crec-serverecs-XXXXXX); fi
PID=""
trap '[ -n "$PID" ] && { kill $PID; wait $PID; } 2>/dev/null; [ -z "${WORK:-}" ] && rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
TICK=$(getconf CLK_TCK)

echo "# crec serve: CPU per recommendation request - $(date -u '+%F %T') - $(nproc) cores" \
     "- commit $(git rev-parse --short HEAD 2>/dev/null) - load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$T/m-$MODEL.crecm" ]; then
  "$NEW" data import --format sequences --input "$S/Beauty.txt" --items "$S/Beauty_item2attributes.json" \
    --out "$T/beauty.crecds" >/dev/null || exit 1
  "$NEW" train --data "$T/beauty.crecds" --model "$MODEL" --out "$T/m-$MODEL.crecm" >/dev/null || exit 1
fi
[ -f "$T/beauty.db" ] || "$NEW" db import --db "$T/beauty.db" --data "$T/beauty.crecds" >/dev/null || exit 1

# one run: start BIN on its own copy of the store, warm up, wrk, print a line
run() {
  local name=$1 bin=$2 perf=${3:-0} extra=""
  [ "$name" = new ] && extra=$SERVE_ARGS
  cp "$T/beauty.db" "$T/$name.db"
  # shellcheck disable=SC2086
  "$bin" serve --db "$T/$name.db" --model "$T/m-$MODEL.crecm" --data "$T/beauty.crecds" --port 0 \
    --threads "$THREADS" $extra 2>"$T/$name.log" &
  PID=$!
  for _ in $(seq 1 200); do grep -q "listening on" "$T/$name.log" && break; sleep 0.1; done
  local port
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/$name.log" | grep -o '[0-9]*$')
  [ -n "$port" ] || { cat "$T/$name.log"; exit 1; }
  wrk -t1 -c8 -d"${WARMUP}s" -s "$L/recs.lua" "http://127.0.0.1:$port" >/dev/null 2>&1 # warm-up
  local pp=""
  if [ "$perf" = 1 ]; then
    perf record -g -o "$T/perf.data" -p "$PID" >/dev/null 2>&1 & pp=$!
  fi
  local c0 c1 n la
  c0=$(awk '{print $14 + $15}' /proc/$PID/stat)
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$L/recs.lua" "http://127.0.0.1:$port" >"$T/$name.wrk" 2>&1
  c1=$(awk '{print $14 + $15}' /proc/$PID/stat)
  la=$(cut -d' ' -f1 /proc/loadavg)
  [ -n "$pp" ] && { kill -INT $pp; wait $pp 2>/dev/null; }
  local hc
  hc=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "crec_history_cache_hits_total" {h = $2}
       $1 == "crec_history_cache_misses_total" {m = $2} END {if (h + m > 0) printf "history cache: %.1f%% hits", 100 * h / (h + m)}')
  kill "$PID"; wait "$PID" 2>/dev/null; PID=""
  n=$(grep -o '[0-9]* requests in' "$T/$name.wrk" | cut -d' ' -f1)
  printf '%-10s %8s req/s  p50 %8s  p99 %8s  non-2xx %s  server CPU %6.2f s  per request %5.1f us  load %s\n' \
    "$name" "$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$T/$name.wrk")" \
    "$(awk '$1 == "50%" {print $2}' "$T/$name.wrk")" "$(awk '$1 == "99%" {print $2}' "$T/$name.wrk")" \
    "$(awk '/Non-2xx/ {print $NF}' "$T/$name.wrk" | grep . || echo 0)" \
    "$(echo "$c0 $c1 $TICK" | awk '{print ($2 - $1) / $3}')" \
    "$(echo "$c0 $c1 $TICK ${n:-0}" | awk '{print ($4 > 0 ? ($2 - $1) / $3 / $4 * 1e6 : 0)}')" "$la"
  [ -n "$hc" ] && echo "  $hc (since start, warm-up included)"
  if [ "$perf" = 1 ]; then
    perf report -i "$T/perf.data" --no-children --percent-limit 0.7 --stdio 2>/dev/null \
      | grep -E '^ +[0-9.]+%' >"$T/perf.txt"
    echo "  perf (self time, >= 0.7%): $T/perf.txt"; head -25 "$T/perf.txt" | sed 's/^/  /'
  fi
}

echo "GET /v1/users/{random user}/recommendations?k=10, $MODEL, $THREADS server threads," \
     "wrk -t2 -c$CONNS -d${DURATION}s --latency -s bench/serve/recs.lua after a ${WARMUP} s warm-up${SERVE_ARGS:+; new: $SERVE_ARGS}"
for r in $(seq 1 "$ROUNDS"); do
  run new "$NEW" "$([ "$r" = 1 ] && echo "${PERF:-0}" || echo 0)"
  [ -n "$REF" ] && run reference "$REF"
done
