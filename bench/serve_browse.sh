#!/usr/bin/env bash
# serve_browse.sh: what the dashboard's browsing and import/export routes cost on Amazon Beauty (22,363 users,
# 12,101 items, 198,502 events), one request at a time with curl on loopback: similar users from the model's
# vectors (ials: a cosine against every user, usersim.c) and from the histories (Jaccard in the store), a users
# prefix search that matches nothing (an index range read that ends at once), an events export page of 10,000 and an items
# export page of 1,000, and the whole export of events page by page. Prints the median and p90 latency and the
# server's CPU per request ((utime + stime of the server process) / requests).
# Usage: bench/serve_browse.sh BUILD_DIR   Env: N (requests per route, 40), FACTORS (ials factors, 64),
#        WORK (a directory for the data, store and logs; default a temporary one, removed at the end)
set -u
cd "$(dirname "$0")/.."
BIN=$(realpath "$1")/crec
N=${N:-40} FACTORS=${FACTORS:-64}
S=${CREC_SHARED_DATA:-../shared/data}/amazon-beauty
[ -f "$S/Beauty.txt" ] || { echo "Beauty not found under $S"; exit 1; }
if [ -n "${WORK:-}" ]; then T=$WORK; mkdir -p "$T"; else T=$(mktemp -d /tmp/crec-servebrowse-XXXXXX); fi
PID=""
trap '[ -n "$PID" ] && { kill $PID; wait $PID; } 2>/dev/null; [ -z "${WORK:-}" ] && rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
TICK=$(getconf CLK_TCK)
echo "# crec serve: browsing and export routes on Beauty - $(date -u '+%F %T') - $(nproc) cores" \
     "- commit $(git rev-parse --short HEAD 2>/dev/null) - load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$T/ials.crecm" ]; then
  "$BIN" data import --format sequences --input "$S/Beauty.txt" --items "$S/Beauty_item2attributes.json" \
    --out "$T/beauty.crecds" >/dev/null || exit 1
  "$BIN" train --data "$T/beauty.crecds" --model ials --set factors="$FACTORS" --out "$T/ials.crecm" >/dev/null || exit 1
fi
[ -f "$T/beauty.db" ] || "$BIN" db import --db "$T/beauty.db" --data "$T/beauty.crecds" >/dev/null || exit 1
"$BIN" serve --db "$T/beauty.db" --model "$T/ials.crecm" --data "$T/beauty.crecds" --port 0 --threads 2 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 300); do grep -q "listening on" "$T/serve.log" && break; sleep 0.1; done
PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/serve.log" | grep -o '[0-9]*$')
[ -n "$PORT" ] || { cat "$T/serve.log"; exit 1; }
U="http://127.0.0.1:$PORT"
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
echo "ials factors=$FACTORS; $N requests per route, one at a time; users u = 1 + 557 k (k = 0..N-1)"
printf '%-44s %10s %10s %14s  %s\n' route "p50 ms" "p90 ms" "CPU ms/req" "answer (first request)"
# measure NAME PATH-TEMPLATE: PATH-TEMPLATE's {u} is replaced by a user id
measure() {
  local name=$1 tpl=$2 c0 c1 first=""
  : >"$T/times"
  c0=$(cpu)
  for k in $(seq 0 $((N - 1))); do
    local p=${tpl//\{u\}/$((1 + 557 * k))}
    curl -s -o "$T/body" -w '%{time_total}\n' "$U$p" >>"$T/times"
    [ -z "$first" ] && first=$(jq -c "${3:-.}" "$T/body" 2>/dev/null | head -c 90)
  done
  c1=$(cpu)
  sort -n "$T/times" | awk -v n="$N" -v name="$name" -v cpu="$(( (c1 - c0) ))" -v tick="$TICK" -v first="$first" \
    '{t[NR] = $1 * 1000} END {printf "%-44s %10.2f %10.2f %14.2f  %s\n", name, t[int((n + 1) / 2)], t[int(0.9 * n + 0.5)], cpu * 1000 / tick / n, first}'
}
measure "users/{u}/similar?k=10&source=model" "/v1/users/{u}/similar?k=10&source=model" '{source, method, n: (.users | length)}'
measure "users/{u}/similar?k=10&source=history" "/v1/users/{u}/similar?k=10&source=history" '{source, method, n: (.users | length)}'
measure "search/users?prefix=zz (no match)" "/v1/search/users?prefix=zz&n=20" '{n: (.users | length), next_cursor}'
measure "search/users?prefix={u}&n=20" "/v1/search/users?prefix={u}&n=20" '{n: (.users | length), next_cursor}'
measure "export/events?limit=10000" "/v1/export/events?limit=10000" '{n: (.events | length), next_cursor}'
measure "export/items?limit=1000" "/v1/export/items?limit=1000" '{n: (.items | length), next_after}'
# the whole event log, page by page
c0=$(cpu); t0=$(date +%s.%N); cur=""; pages=0; total=0
while :; do
  curl -s -o "$T/body" "$U/v1/export/events?limit=10000${cur:+&cursor=$cur}"
  total=$((total + $(jq '.events | length' "$T/body"))); pages=$((pages + 1))
  cur=$(jq -r '.next_cursor // empty' "$T/body"); [ -z "$cur" ] && break
done
t1=$(date +%s.%N); c1=$(cpu)
echo "whole event export: $total events in $pages pages of 10,000: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s" \
     "wall (curl + jq included), server CPU $(awk -v c=$((c1 - c0)) -v t="$TICK" 'BEGIN {printf "%.2f", c / t}') s"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
