#!/usr/bin/env bash
# redis_stream.sh: the Redis Streams event path, measured on this machine (docs/RESULTS.md "Events through Redis
# Streams"). Usage: bench/redis_stream.sh build-rel/crec OUTDIR [EVENTS] [BATCH]
# A synthetic catalogue (crec data synth, 2,000 users x 1,000 items) in a store, an onlinemf model (factors 32),
# redis-server on a loopback port (no persistence). Prints:
#  1. acknowledgement rate of POST /v1/events (EVENTS events in posts of BATCH, one client, sequential) without
#     and with --events (MODES="plain events down": also at a closed port; ONLY_INGEST=1 stops after this part) (same store contents, same model), and how long after the last acknowledgement the stream
#     holds every event (publisher events/s);
#  2. one `crec stream train` consuming the whole stream: events/s, publications, rows and bytes per row message;
#  3. consumer lag live: the trainer running while the events are posted, XINFO GROUPS lag sampled every 0.1 s;
#  4. two trainers in one group, live: the split and the rows both published (last-writer-wins rows).
set -eu
CREC=$(realpath "${1:?usage: redis_stream.sh CREC OUTDIR [EVENTS] [BATCH]}")
OUT=${2:?outdir}
N=${3:-20000}
B=${4:-100}
mkdir -p "$OUT"; OUT=$(realpath "$OUT")
export CREC_NO_PROGRESS=1
RP=$((20000 + RANDOM % 40000))
redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" --daemonize no >"$OUT/redis.log" 2>&1 &
RPID=$!
SPID=""
trap 'kill $SPID $RPID 2>/dev/null; true' EXIT
for _ in $(seq 50); do redis-cli -p $RP ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
R=redis://127.0.0.1:$RP
"$CREC" data synth --users 2000 --items 1000 --topics 20 --seed 5 --out "$OUT/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$OUT/s.crecds" --model onlinemf --set factors=32 --set epochs=1 --out "$OUT/omf.crecm" >/dev/null 2>&1
# the events: N random (user, item) pairs of the catalogue, in posts of B
python3 - "$N" "$B" "$OUT" <<'EOF'
import json, random, sys
n, b, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
random.seed(7)
for k in range(0, n, b):
    with open(f"{out}/post{k // b:06d}.json", "w") as f:
        json.dump([{"user": f"u{random.randint(1, 2000)}", "item": f"i{random.randint(1, 1000)}"} for _ in range(min(b, n - k))], f)
EOF
now() { date +%s.%N; }
start_server() { # DB LOG args...
  local db=$1 log=$2; shift 2
  "$CREC" serve --db "$db" --model "$OUT/omf.crecm" --port 0 "$@" 2>"$log" &
  SPID=$!
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
  U=$(grep -o 'http://127.0.0.1:[0-9]*' "$log")
}
post_all() { for f in "$OUT"/post*.json; do curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$f" "$U/v1/events"; done; }

echo "# crec bench/redis_stream.sh: $N events in posts of $B; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
# MODES (env): any of plain, events, down (--events at a closed port: the queue without the publisher's work)
for mode in ${MODES:-plain events}; do
  if [ -n "$SPID" ]; then kill $SPID; wait $SPID 2>/dev/null || true; SPID=""; fi
  rm -f "$OUT/$mode.db"*; "$CREC" db import --db "$OUT/$mode.db" --data "$OUT/s.crecds" >/dev/null 2>&1
  args=(); [ $mode = events ] && args=(--events "$R/ev"); [ $mode = down ] && args=(--events "redis://127.0.0.1:1/ev")
  start_server "$OUT/$mode.db" "$OUT/serve-$mode.log" "${args[@]}"
  t0=$(now); c0=$(awk '{print $14+$15}' /proc/$SPID/stat); post_all; t1=$(now)
  if [ $mode = events ]; then
    while [ "$(redis-cli -p $RP XLEN ev)" -lt "$N" ]; do sleep 0.01; done
    t2=$(now)
  fi
  c1=$(awk '{print $14+$15}' /proc/$SPID/stat)
  awk -v m=$mode -v n=$N -v t0=$t0 -v t1=$t1 -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN{printf "ingest %-6s: %d events acknowledged in %.2f s = %.0f events/s (server CPU %.2f s)\n", m, n, t1-t0, n/(t1-t0), c/hz}'
  [ $mode = events ] && awk -v n=$N -v t0=$t0 -v t1=$t1 -v t2=$t2 \
    'BEGIN{printf "publish       : stream complete %.3f s after the last acknowledgement; %.0f events/s end to end\n", t2-t1, n/(t2-t0)}'
  [ $mode = events ] || { kill $SPID; wait $SPID 2>/dev/null || true; SPID=""; }
done
if [ -n "${ONLY_INGEST:-}" ]; then exit 0; fi

# 2. one trainer over the whole stream
"$CREC" stream train --events "$R/ev" --group bench1 --consumer t1 --out "$OUT/tr1" --init "$OUT/omf.crecm" \
  --data "$OUT/s.crecds" --deltas "$R/ev-deltas" --every 1000 --idle-exit 1 --json >"$OUT/train1.json" 2>"$OUT/train1.log"
jq -r '"trainer (1)   : \(.applied_run) events in \(.seconds*1000|round/1000) s incl. 1 s idle exit = \((.applied_run/(.seconds-1))|round) events/s; \(.publications) row messages, \(.rows_published/.publications|round) rows and \(.bytes_published/.publications/1024|round) KiB each"' "$OUT/train1.json"
echo "delta stream  : $(redis-cli -p $RP XLEN ev-deltas) entries, $(redis-cli -p $RP MEMORY USAGE ev-deltas) bytes in Redis"

# 3. live: the trainer runs while the events are posted; lag = entries not yet delivered to the group
redis-cli -p $RP XGROUP CREATE ev live '$' >/dev/null
"$CREC" stream train --events "$R/ev" --group live --consumer t1 --out "$OUT/tr2" --init "$OUT/omf.crecm" \
  --data "$OUT/s.crecds" --every 1000 --idle-exit 10 --json >"$OUT/train2.json" 2>"$OUT/train2.log" &
TP=$!
sleep 0.5
( while kill -0 $TP 2>/dev/null; do
    redis-cli -p $RP XINFO GROUPS ev | awk 'f{print; exit} /^live$/{g=1} g&&/^lag$/{f=1}'
    redis-cli -p $RP XPENDING ev live | head -1
    sleep 0.1; done ) >"$OUT/lag.txt" &
LP=$!
post_all
wait $TP || true
wait $LP 2>/dev/null || true
awk 'NR%2==1{if($1>ml)ml=$1} NR%2==0{if($1>mp)mp=$1} END{printf "live lag      : max %d entries not yet delivered, max %d delivered but not acknowledged (sampled every 0.1 s)\n", ml, mp}' "$OUT/lag.txt"
jq -r '"trainer live  : \(.applied_run) events, max read-to-XACK \(.max_ack_lag_s*1000|round) ms"' "$OUT/train2.json"

# 4. two trainers in one group, live
redis-cli -p $RP XGROUP CREATE ev two '$' >/dev/null
for c in a b; do
  "$CREC" stream train --events "$R/ev" --group two --consumer $c --out "$OUT/tr3" --init "$OUT/omf.crecm" \
    --data "$OUT/s.crecds" --deltas "$R/two-deltas" --every 1000 --idle-exit 10 --json >"$OUT/two-$c.json" 2>"$OUT/two-$c.log" &
  eval "P$c=$!"
done
sleep 0.5
post_all
wait "$Pa" "$Pb" || true
echo "two trainers  : $(jq .applied_run "$OUT/two-a.json") + $(jq .applied_run "$OUT/two-b.json") events; rows published $(jq .rows_published "$OUT/two-a.json") + $(jq .rows_published "$OUT/two-b.json")"

# 5. catch-up: Redis stopped, N more events acknowledged, Redis back (empty: no persistence); the publisher
#    republishes from the store after its watermark - its own throughput, without the HTTP client in the way
redis-cli -p $RP SHUTDOWN NOSAVE >/dev/null 2>&1 || true
wait $RPID 2>/dev/null || true
post_all
redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" --daemonize no >>"$OUT/redis.log" 2>&1 &
RPID=$!
t0=$(now)
for _ in $(seq 6000); do [ "$(redis-cli -p $RP XLEN ev 2>/dev/null)" = "$N" ] && break; sleep 0.01; done
t1=$(now)
awk -v n=$N -v t0=$t0 -v t1=$t1 'BEGIN{printf "catch-up      : %d events republished from the store %.2f s after Redis came back (reconnect within 1 s included) = %.0f events/s\n", n, t1-t0, n/(t1-t0)}'
