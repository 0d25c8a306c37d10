#!/usr/bin/env bash
# store_pg.sh: the SQLite store beside the PostgreSQL store (--db postgresql://...) in one run, on the
# embedded synthetic data (no download): (1) `crec db import` seconds; (2) durable single-event POST
# /v1/events requests per second at 1, 16 and 64 connections (acknowledged after COMMIT: SQLite
# synchronous=FULL, PostgreSQL synchronous_commit=on with fsync on); (3) GET /v1/users/{u}/recommendations?k=10
# requests per second at 16 connections. CPU per request is the crec server's, and for PostgreSQL also the
# database server's (postmaster and its backends). PostgreSQL is a throw-away cluster on loopback
# (tests/integration/lib/pg_cluster.sh). Reuses bench/serve/event1.lua and serve_ingest.sh's CPU reading.
# Usage: bench/store_pg.sh BUILD_DIR      Env: DURATION (seconds per phase, default 6), MODEL (default itemknn)
set -u
cd "$(dirname "$0")/.."
L=$(pwd)/bench/serve
DURATION=${DURATION:-6}
MODEL=${MODEL:-itemknn}
CREC=$(realpath "${1:?usage: bench/store_pg.sh BUILD_DIR}/crec")
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
# shellcheck source=../tests/integration/lib/pg_cluster.sh
. tests/integration/lib/pg_cluster.sh
pg_have || { echo "PostgreSQL server binaries not found (apt-get install postgresql)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/crec-storepg-XXXXXX")
PGT=$(mktemp -d /tmp/crec-pgbench-XXXXXX)
PID=""
trap '[ -n "$PID" ] && { kill $PID; wait $PID; } 2>/dev/null; pg_stop; rm -rf "$T" "$PGT"' EXIT
export CREC_NO_PROGRESS=1
echo "# store: SQLite vs PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') - $(date -u +%F) - $(nproc) cores" \
     "- commit $(git rev-parse --short HEAD 2>/dev/null) - load average $(cut -d' ' -f1-3 /proc/loadavg)"
pg_start "$PGT" || { echo "cluster did not start"; cat "$PGT"/*.log; exit 1; }
PG_MASTER=$(head -1 "$PGT/data/postmaster.pid")

cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat 2>/dev/null || echo 0; }
# the database server's CPU: the postmaster and every backend alive now (serve keeps its connections)
pg_ticks() {
  local s=0 p
  for p in $PG_MASTER $(pgrep -P "$PG_MASTER"); do s=$((s + $(cpu_ticks "$p"))); done
  echo $s
}

"$CREC" data synth --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model "$MODEL" --out "$T/m.crecm" >/dev/null 2>&1
USERS=$("$CREC" data info "$T/s.crecds" --json | jq .users)
cat >"$T/recs.lua" <<LUA
math.randomseed(42)
request = function() return wrk.format("GET", "/v1/users/u" .. math.random(1, $USERS) .. "/recommendations?k=10") end
LUA

# run NAME DB: prints "NAME phase value..." lines
run() {
  local name=$1 db=$2 pg=$3
  local t0 t1
  t0=$(date +%s.%N)
  "$CREC" db import --db "$db" --data "$T/s.crecds" >"$T/$name.import" 2>&1 || { cat "$T/$name.import"; return 1; }
  t1=$(date +%s.%N)
  echo "$name import_s $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') ($(grep -o '[0-9]* events added' "$T/$name.import"))"
  "$CREC" serve --db "$db" --model "$T/m.crecm" --port 0 --threads 2 2>"$T/$name.log" &
  PID=$!
  for _ in $(seq 1 200); do grep -q "listening on" "$T/$name.log" && break; sleep 0.1; done
  local port; port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/$name.log" | grep -o '[0-9]*$')
  [ -n "$port" ] || { cat "$T/$name.log"; return 1; }
  local u=http://127.0.0.1:$port
  phase() { # phase LABEL CONNS SCRIPT
    local c0 d0 c1 d1 n
    c0=$(cpu_ticks $PID); d0=$([ "$pg" = 1 ] && pg_ticks || echo 0)
    wrk -t$([ "$2" -gt 1 ] && echo 2 || echo 1) -c"$2" -d"${DURATION}s" --latency -s "$3" "$u" >"$T/w.txt" 2>&1
    c1=$(cpu_ticks $PID); d1=$([ "$pg" = 1 ] && pg_ticks || echo 0)
    n=$(awk '/requests in/ {print $1}' "$T/w.txt")
    grep -q "Non-2xx" "$T/w.txt" && echo "  $1: $(grep Non-2xx "$T/w.txt")"
    echo "$name $1 rps $(awk '/Requests\/sec/ {print $2}' "$T/w.txt") p50 $(awk '$1 == "50%" {print $2}' "$T/w.txt")" \
         "p99 $(awk '$1 == "99%" {print $2}' "$T/w.txt") crec_cpu_us_per_req $(awk -v a=$c0 -v b=$c1 -v n=$n 'BEGIN {printf "%.0f", (b - a) * 1e4 / n}')" \
         "db_cpu_us_per_req $(awk -v a=$d0 -v b=$d1 -v n=$n 'BEGIN {printf "%.0f", (b - a) * 1e4 / n}')"
  }
  for c in 1 16 64; do phase "event1_c$c" $c "$L/event1.lua"; done
  wrk -t1 -c4 -d2s -s "$T/recs.lua" "$u" >/dev/null 2>&1 # warm-up
  phase recs_c16 16 "$T/recs.lua"
  kill $PID; wait $PID 2>/dev/null; PID=""
}

echo "## wrk -c{1,16,64} -d${DURATION}s -s bench/serve/event1.lua (one event per request, durable); recommendations:" \
     "GET /v1/users/u{1..$USERS}/recommendations?k=10 ($MODEL, 2 server threads) at -c16"
run sqlite "$T/s.db" 0
run postgresql "$PG_URL" 1
