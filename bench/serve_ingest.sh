#!/usr/bin/env bash
# serve_ingest.sh: durable writes of `crec serve` under concurrency, on the embedded synthetic data (no
# download): (1) single-event POST /v1/events requests per second at 1, 16 and 64 connections, each
# acknowledged only after its transaction committed with synchronous=FULL (the group commit of the writer
# thread shares one COMMIT - one fsync - among the requests queued meanwhile); (2) read latency (GET
# /v1/popular) while 4 clients post 10,000-event batches. With a second build directory the same phases run
# against it in the same run, and the ratios are printed (new / reference).
# Usage: bench/serve_ingest.sh BUILD_DIR [REFERENCE_BUILD_DIR]     Env: DURATION (seconds per phase, default 8)
set -u
cd "$(dirname "$0")/.."
L=$(pwd)/bench/serve
DURATION=${DURATION:-8}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/crec-ingest-XXXXXX")
PID=""
trap '[ -n "$PID" ] && { kill $PID; wait $PID; } 2>/dev/null; rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
echo "# crec serve durable ingestion - $(date -u +%F) - $(nproc) cores - commit $(git rev-parse --short HEAD 2>/dev/null)" \
     "- load average $(cut -d' ' -f1-3 /proc/loadavg)"

cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }

# run_build NAME CREC: prints "NAME phase value" lines into $T/NAME.res
run_build() {
  local name=$1 crec=$2 res=$T/$1.res
  : >"$res"
  "$crec" data synth --out "$T/$name.crecds" >/dev/null 2>&1
  "$crec" train --data "$T/$name.crecds" --model pop --out "$T/$name.crecm" >/dev/null 2>&1
  "$crec" db import --db "$T/$name.db" --data "$T/$name.crecds" >/dev/null 2>&1
  "$crec" serve --db "$T/$name.db" --model "$T/$name.crecm" --data "$T/$name.crecds" --port 0 --threads 2 \
    2>"$T/$name.log" &
  PID=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$T/$name.log" && break; sleep 0.1; done
  local port; port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/$name.log" | grep -o '[0-9]*$')
  [ -n "$port" ] || { cat "$T/$name.log"; return 1; }
  local u=http://127.0.0.1:$port
  for c in 1 16 64; do
    local c0; c0=$(cpu_ticks $PID)
    wrk -t$([ $c -gt 1 ] && echo 2 || echo 1) -c$c -d${DURATION}s --latency -s "$L/event1.lua" "$u" >"$T/w.txt" 2>&1
    local c1; c1=$(cpu_ticks $PID)
    local rps p50 p99 n
    rps=$(awk '/Requests\/sec/ {print $2}' "$T/w.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$T/w.txt"); p99=$(awk '$1 == "99%" {print $2}' "$T/w.txt")
    n=$(awk '/requests in/ {print $1}' "$T/w.txt")
    if grep -q "Non-2xx" "$T/w.txt"; then echo "  single_c$c: $(grep Non-2xx "$T/w.txt")" >&2; fi
    echo "single_c$c rps $rps p50 $p50 p99 $p99 cpu_us_per_req $(awk -v a=$c0 -v b=$c1 -v n=$n 'BEGIN {printf "%.0f", (b - a) * 1e4 / n}')" >>"$res"
  done
  # reads while 4 writers post 10,000-event batches
  BATCH=10000 USERS=3000 ITEMS=1500 ITEM_PREFIX=i wrk -t1 -c4 -d$((DURATION + 2))s -s "$L/events.lua" "$u" >"$T/wb.txt" 2>&1 &
  local wp=$!
  sleep 1
  wrk -t1 -c4 -d${DURATION}s --latency -s "$L/popular.lua" "$u" >"$T/wr.txt" 2>&1
  wait $wp
  echo "read_under_ingest rps $(awk '/Requests\/sec/ {print $2}' "$T/wr.txt") p50 $(awk '$1 == "50%" {print $2}' "$T/wr.txt") p99 $(awk '$1 == "99%" {print $2}' "$T/wr.txt") batches_per_s $(awk '/Requests\/sec/ {print $2}' "$T/wb.txt")" >>"$res"
  curl -s "$u/metrics" | awk '/^crec_write_(groups|requests)_total/ {print "metric", $1, $2}' >>"$res"
  kill $PID; wait $PID 2>/dev/null; PID=""
}

run_build new "$(realpath "$1/crec")"
echo "## $1"; sed 's/^/  /' "$T/new.res"
if [ $# -ge 2 ]; then
  run_build ref "$(realpath "$2/crec")"
  echo "## $2 (reference)"; sed 's/^/  /' "$T/ref.res"
  echo "## ratio new / reference (single-event requests per second)"
  for c in 1 16 64; do
    a=$(awk -v k=single_c$c '$1 == k {print $3}' "$T/new.res"); b=$(awk -v k=single_c$c '$1 == k {print $3}' "$T/ref.res")
    echo "  c=$c: $(awk -v a="$a" -v b="$b" 'BEGIN {if (b > 0) printf "%.1fx", a / b; else print "n/a"}')"
  done
fi
