#!/usr/bin/env bash
# redis_stream.sh: the event path through Redis Streams against a real redis-server on a loopback port.
#  - `crec serve --events` XADDs every acknowledged event (entry id = store event id) and nothing else;
#  - `crec stream train` consumes in a consumer group: killed between its save and its XACK and restarted, it
#    skips what its state already holds (no event lost, none counted twice); two consumers split the events;
#  - `crec serve --deltas` applies the trainer's rows without a restart: a brand-new item clicked by fans enters
#    the served model and a similar user's recommendations;
#  - Redis stopped: acknowledgements go on, the log says so, and after Redis is back the missed events are
#    republished from the store.
# Skips (77) without redis-server / redis-cli, curl, jq, or a crec built without Redis support.
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"
for tool in redis-server redis-cli; do
  if ! command -v $tool >/dev/null; then echo "skipping: $tool is not installed (scripts/bootstrap.sh adds redis-server)"; exit 77; fi
done
if "$CREC" stream train --events redis://127.0.0.1:1/x --group g --consumer c --out "$T/probe" 2>&1 | grep -q "built without Redis support"; then
  echo "skipping: this crec was built without Redis support (libhiredis-dev)"; exit 77
fi
RPID=""
trap 'stop_server; [ -n "$RPID" ] && kill "$RPID" 2>/dev/null; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$T"' EXIT

# start_redis: redis-server on a free loopback port, no persistence, its dir in $T (sets RPORT, RPID)
start_redis() {
  mkdir -p "$T/redis"
  for _ in 1 2 3 4 5 6 7 8; do
    RPORT=${RPORT:-$((20000 + RANDOM % 40000))}
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T/redis" \
      --daemonize no >"$T/redis/log" 2>&1 &
    RPID=$!
    for _ in $(seq 1 50); do
      if redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG; then return 0; fi
      if ! kill -0 "$RPID" 2>/dev/null; then break; fi
      sleep 0.1
    done
    kill "$RPID" 2>/dev/null; RPID=""; RPORT=""
  done
  return 1
}
rc() { redis-cli -p "$RPORT" "$@"; }
wait_for() { # wait_for SECONDS 'SHELL TEST': poll every 0.1 s until the test (evaluated anew each time) succeeds
  local n=$(($1 * 10))
  for _ in $(seq 1 "$n"); do if eval "$2"; then return 0; fi; sleep 0.1; done
  return 1
}

start_redis || { bad "redis-server starts" "$(cat "$T/redis/log" 2>/dev/null)"; echo "$pass passed, $fail failed"; exit 1; }
ok "redis-server on 127.0.0.1:$RPORT"
R="redis://127.0.0.1:$RPORT"

# ---- bad input ----
out=$("$CREC" stream train --events "$R/ev" --group g 2>&1); code=$?
if [ $code = 2 ] && grep -q -- "--consumer is required" <<<"$out"; then ok "stream train names a missing option"; else bad "missing --consumer ($code)" "$out"; fi
"$CREC" stream train --help | grep -q "XACK" && ok "stream train --help" || bad "stream train --help"

# ---- data, model, store ----
"$CREC" data synth --users 150 --items 60 --topics 6 --seed 3 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model onlinemf --set factors=16 --set epochs=5 --set neg=16 \
  --out "$T/omf.crecm" >"$T/train.log" 2>&1 || { bad "train onlinemf" "$(cat "$T/train.log")"; exit 1; }
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1

out=$("$CREC" serve --db "$T/s.db" --model "$T/omf.crecm" --port 0 --events "http://x/y" 2>&1); code=$?
if [ $code != 0 ] && grep -q "expected redis://HOST\[:PORT\]/STREAM" <<<"$out"; then ok "a bad --events URL is named"; else bad "bad --events URL ($code)" "$out"; fi
if ! start_server "$T/serve.log" --db "$T/s.db" --model "$T/omf.crecm" --events "$R/ev" --deltas "$R/ev-deltas"; then
  bad "server starts" "$(cat "$T/serve.log")"; echo "$pass passed, $fail failed"; exit 1; fi
ok "serve --events --deltas starts on port $PORT"
sleep 0.5
[ "$(rc XLEN ev)" = 0 ] && ok "a fresh stream starts at the store's end (imported events are not published)" || bad "XLEN before posting: $(rc XLEN ev)"

# ---- events: the fans of a brand-new item, 6 rounds ----
target=$(get /v1/users/u1 | jq -r '.history[].item' | head -8)
hist_json=$(jq -R . <<<"$target" | jq -s .)
req "create the new item" POST /v1/items 201 '.id == "fresh"' -H 'Content-Type: application/json' \
  -d '{"id": "fresh", "title": "A brand-new item", "attributes": []}'
evs=$(jq -c --argjson h "$hist_json" -n '[range(0;8) as $u | ($h[] , "fresh", "fresh") | {user: ("fan\($u)"), item: .}]')
nper=$(jq length <<<"$evs")
posted=0
for round in 1 2 3 4 5 6; do
  n=$(post /v1/events "$evs" | jq -r .accepted); posted=$((posted + n))
done
[ "$posted" = $((6 * nper)) ] && ok "$posted events acknowledged" || bad "acknowledged $posted of $((6 * nper))"
if wait_for 10 '[ "$(rc XLEN ev)" = "$posted" ]'; then ok "all $posted events are in the stream"; else bad "XLEN $(rc XLEN ev), want $posted"; fi
rc XRANGE ev - + > "$T/xrange"
# entries come as: id, field, value...; check that every entry id is "E-0" with E the event field, increasing
awk 'BEGIN{prev=0; bad=0; n=0} /^[0-9]+-0$/ {id=$0; sub(/-0$/,"",id); getline f; getline v; if (f!="event" || v!=id || id+0<=prev) bad++; prev=id+0; n++} END{exit !(bad==0 && n>0)}' "$T/xrange" \
  && ok "entry id = the event's store id, strictly increasing" || bad "entry ids" "$(head -30 "$T/xrange")"
grep -q '^fresh$' "$T/xrange" && grep -q '^fan3$' "$T/xrange" && ok "entries carry user and item" || bad "entry fields" "$(head -20 "$T/xrange")"
idsum=$(grep -E '^[0-9]+-0$' "$T/xrange" | sed 's/-0$//' | awk '{s+=$1} END{print s}')

# ---- a trainer killed between its save and its XACK, restarted ----
before=$(get "/v1/users/u1/recommendations?k=10" | jq -c '[.items[].id]')
req "before training the new item is not in the served model" GET /v1/items/fresh 200 '.in_model == false'
CREC_STREAM_TEST_EXIT_BEFORE_ACK=2 "$CREC" stream train --events "$R/ev" --group g1 --consumer c1 --out "$T/tr1" \
  --init "$T/omf.crecm" --data "$T/s.crecds" --count 50 --every 50 --idle-exit 2 --deltas "$R/ev-deltas" --json >"$T/t1a.json" 2>"$T/t1a.log"; code=$?
pend=$(rc XPENDING ev g1 | head -1)
[ $code = 3 ] && [ "$pend" -gt 0 ] && ok "trainer died after its 2nd save, before XACK ($pend entries pending)" || bad "crash hook ($code, pending $pend)" "$(cat "$T/t1a.log")"
"$CREC" stream train --events "$R/ev" --group g1 --consumer c1 --out "$T/tr1" --init "$T/omf.crecm" --data "$T/s.crecds" \
  --count 50 --every 50 --idle-exit 2 --deltas "$R/ev-deltas" --json >"$T/t1b.json" 2>"$T/t1b.log" || bad "trainer restart" "$(cat "$T/t1b.log")"
if [ -s "$T/t1b.json" ] && jq -e --argjson n "$posted" --argjson s "$idsum" '.applied_total == $n and .id_sum == $s and .skipped_run > 0' "$T/t1b.json" >/dev/null; then
  ok "restarted: every event applied once in the state ($(jq -c '{applied_total, skipped_run, applied_run}' "$T/t1b.json"))"
else bad "no event lost or applied twice" "$(cat "$T/t1b.json" "$T/t1b.log")"; fi
[ "$(rc XPENDING ev g1 | head -1)" = 0 ] && ok "nothing left pending in g1" || bad "pending after the restart: $(rc XPENDING ev g1 | head -1)"

# ---- a trainer killed -9 at an arbitrary point, restarted ----
all=$(rc XLEN ev)
CREC_STREAM_TEST_SLOW_MS=50 "$CREC" stream train --events "$R/ev" --group g3 --consumer k --out "$T/tr3" \
  --init "$T/omf.crecm" --data "$T/s.crecds" --count 10 --every 20 --every-seconds 0.1 --json >/dev/null 2>"$T/t3a.log" &
k3=$!
sleep 1.2; kill -9 $k3; wait $k3 2>/dev/null
"$CREC" stream train --events "$R/ev" --group g3 --consumer k --out "$T/tr3" --init "$T/omf.crecm" --data "$T/s.crecds" \
  --count 50 --idle-exit 2 --json >"$T/t3b.json" 2>"$T/t3b.log"
if [ -s "$T/t3b.json" ] && jq -e --argjson n "$all" --argjson s "$idsum" '.applied_total == $n and .id_sum == $s and .applied_run < $n' "$T/t3b.json" >/dev/null; then
  ok "killed -9 mid-way and restarted: $(jq .applied_total "$T/t3b.json") events, each once ($(jq -c '{applied_run, skipped_run}' "$T/t3b.json") after the restart)"
else bad "kill -9 and restart" "$(cat "$T/t3b.json" "$T/t3a.log" "$T/t3b.log")"; fi

# ---- the server picks up the rows ----
if wait_for 10 '[ "$(get /v1/items/fresh | jq -r .in_model)" = true ]'; then ok "the server applied the trainer's rows: the new item is in the model"; else bad "rows applied" "$(get /v1/items/fresh)"; fi
after=$(get "/v1/users/u1/recommendations?k=10" | jq -c '[.items[].id]')
[ "$before" != "$after" ] && ok "u1's recommendations changed without a restart" || bad "recommendations unchanged" "$after"
get "/v1/users/fan0/recommendations?k=5" | jq -e '.known_user == true' >/dev/null && ok "a user first seen by the trainer is known to the server" || bad "fan0 known" "$(get "/v1/users/fan0/recommendations?k=5")"

# ---- two consumers in one group split the events as they arrive ----
rc XGROUP CREATE ev g2 '$' >/dev/null   # the group starts at the stream's end: only the events posted below
for c in a b; do
  "$CREC" stream train --events "$R/ev" --group g2 --consumer "$c" --out "$T/tr2" --init "$T/omf.crecm" --data "$T/s.crecds" \
    --count 8 --every 16 --idle-exit 5 --deltas "$R/ev-deltas" --json >"$T/t2$c.json" 2>"$T/t2$c.log" &
  eval "pid_$c=$!"
done
sleep 1
top0=$(rc XREVRANGE ev + - COUNT 1 | head -1 | sed 's/-0$//')
for round in 1 2 3 4 5 6; do post /v1/events "$evs" >/dev/null; sleep 0.2; done
# shellcheck disable=SC2154
wait "$pid_a" "$pid_b"
rc XRANGE ev "($top0-0" + > "$T/xrange2"
n2=$(grep -cE '^[0-9]+-0$' "$T/xrange2")
s2=$(grep -E '^[0-9]+-0$' "$T/xrange2" | sed 's/-0$//' | awk '{s+=$1} END{print s}')
na=$(jq .applied_total "$T/t2a.json"); nb=$(jq .applied_total "$T/t2b.json")
sa=$(jq .id_sum "$T/t2a.json"); sb=$(jq .id_sum "$T/t2b.json")
if [ $((na + nb)) = "$n2" ] && [ $((sa + sb)) = "$s2" ] && [ $((na * 5)) -ge "$n2" ] && [ $((nb * 5)) -ge "$n2" ]; then
  ok "two consumers split the $n2 new events: $na + $nb (each >= 20%), disjoint (id sums add up)"
else bad "two consumers ($na + $nb, want $n2, each >= 20%)" "$(cat "$T/t2a.json" "$T/t2b.json" "$T/t2a.log" "$T/t2b.log")"; fi

# ---- Redis away: acknowledgements go on; back: the missed events are republished from the store ----
top=$(rc XREVRANGE ev + - COUNT 1 | head -1 | sed 's/-0$//')
rc SHUTDOWN NOSAVE >/dev/null 2>&1; wait "$RPID" 2>/dev/null; RPID=""
t0=$(date +%s%N)
n=$(post /v1/events "$evs" | jq -r .accepted)
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$n" = "$nper" ] && ok "with Redis down, $n events acknowledged in $ms ms" || bad "ack with Redis down ($n)"
if wait_for 5 'grep -q "events stay in the store" "$T/serve.log"'; then ok "the log says Redis is unreachable"; else bad "log line" "$(tail -5 "$T/serve.log")"; fi
start_redis || bad "redis-server restarts"
if wait_for 10 '[ "$(rc XLEN ev)" = "$nper" ]'; then ok "back: the $nper missed events were republished from the store"; else bad "catch-up (XLEN $(rc XLEN ev), want $nper)" "$(tail -5 "$T/serve.log")"; fi
first=$(rc XRANGE ev - + COUNT 1 | head -1 | sed 's/-0$//')
[ "$first" -gt "$top" ] && ok "they follow the last event published before (id $first > $top)" || bad "catch-up ids ($first <= $top)"

stop_server
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
