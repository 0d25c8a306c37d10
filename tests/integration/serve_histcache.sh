#!/usr/bin/env bash
# serve_histcache.sh: the history cache of `crec serve` (--history-cache, src/serve/histcache.h) never serves a
# history older than the last acknowledged write: after POSTing an event the very next recommendation excludes
# the item and counts it in history_length; feedback deletion, write_back=shown, user and item deletion and
# reload are seen at once too; a reader hammering the same user while events arrive never gets a stale answer;
# and the answers are byte-for-byte those of a server reading the store every time (--history-cache 0).
# Usage: serve_histcache.sh /path/to/crec
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"

"$CREC" data synth --users 60 --items 200 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model itemknn --out "$T/knn.crecm" >/dev/null 2>&1
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1 || { echo "db import failed"; exit 1; }
cp "$T/s.db" "$T/pristine.db"
metric() { get /metrics | awk -v m="$1" '$1 == m {print $2}'; }

# --sync normal: no fsync per write (durability is not what this test checks; a loaded disk makes fsyncs slow)
if ! start_server "$T/a.log" --db "$T/s.db" --model "$T/knn.crecm" --sync normal; then
  bad "server starts" "$(cat "$T/a.log")"; echo "$pass passed, $fail failed"; exit 1; fi

# a hit: the second request of a user reads no store
get "/v1/users/u3/recommendations?k=5" >/dev/null
h0=$(metric crec_history_cache_hits_total)
get "/v1/users/u3/recommendations?k=5" >/dev/null
h1=$(metric crec_history_cache_hits_total)
[ "${h1:-0}" -gt "${h0:-0}" ] && ok "a user's second request is a cache hit ($h0 -> $h1)" \
  || bad "a user's second request is a cache hit" "hits $h0 -> $h1"

# POST an event, then the very next recommendation excludes the item and counts it
n0=$(get "/v1/users/u3/recommendations?k=5" | jq '.history_length')
top=$(get "/v1/users/u3/recommendations?k=5" | jq -r '.items[0].id')
post /v1/events "[{\"user\":\"u3\",\"item\":\"$top\",\"type\":\"click\"}]" >/dev/null
req "after POST /v1/events: the item is excluded and counted" GET "/v1/users/u3/recommendations?k=50" 200 \
  "([.items[].id] | index(\"$top\")) == null and .history_length == $((n0 + 1))"
req "... and the user's history shows it" GET "/v1/users/u3" 200 "[.history[].item] | index(\"$top\") != null"

# DELETE /v1/feedback/{user}/{item}: the event goes from the cached history too
req "feedback deleted" DELETE "/v1/feedback/u3/$top" 200 ''
req "after DELETE /v1/feedback: history_length back" GET "/v1/users/u3/recommendations?k=5" 200 \
  ".history_length == $n0"

# write_back=shown: the shown items are history at once
shown=$(get "/v1/users/u3/recommendations?k=3&write_back=shown" | jq -c '[.items[].id]')
req "after write_back=shown: the shown items are excluded" GET "/v1/users/u3/recommendations?k=50" 200 \
  "([.items[].id] - $shown | length) == (.items | length) and .history_length == $((n0 + 3))"

# DELETE /v1/users/{id}: a cached user is gone
get "/v1/users/u5/recommendations?k=5" >/dev/null
get "/v1/users/u5/recommendations?k=5" >/dev/null
req "user deleted" DELETE "/v1/users/u5" 200 ''
req "after DELETE /v1/users: no history, popular" GET "/v1/users/u5/recommendations?k=5" 200 \
  '.history_length == 0 and .source == "popular"'

# DELETE /v1/items/{id}: its events leave every cached history
first=$(get "/v1/users/u7" | jq -r '.history[0].item')
n7=$(get "/v1/users/u7/recommendations?k=5" | jq '.history_length')
get "/v1/users/u7/recommendations?k=5" >/dev/null
cnt=$(get "/v1/users/u7" | jq "[.history[].item] | map(select(. == \"$first\")) | length")
req "item deleted" DELETE "/v1/items/$first" 200 ''
req "after DELETE /v1/items: its events leave the cached history" GET "/v1/users/u7/recommendations?k=5" 200 \
  ".history_length == $((n7 - cnt))"

# reload: everything is read again
c0=$(metric crec_history_cache_clears_total)
req "reload" POST /v1/admin/reload 200 ''
c1=$(metric crec_history_cache_clears_total)
[ "${c1:-0}" -gt "${c0:-0}" ] && ok "a reload drops the cached histories" || bad "a reload drops the cached histories" "$c0 -> $c1"

# a reader hammering u9 while events for u9 arrive: every answer after an acknowledged POST counts it
( for _ in $(seq 1 120); do curl -s -o /dev/null "$U/v1/users/u9/recommendations?k=5"; done ) &
hammer=$!
stale=0
base=$(get "/v1/users/u9/recommendations?k=5" | jq '.history_length')
items=$(seq -f 'i%g' 1 20)
i=0
for it in $items; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d "[{\"user\":\"u9\",\"item\":\"$it\"}]" "$U/v1/events")
  [ "$code" = 200 ] || continue
  i=$((i + 1))
  got=$(get "/v1/users/u9/recommendations?k=200&keep_seen=false" | jq -c "[.history_length, ([.items[].id] | index(\"$it\"))]")
  [ "$got" = "[$((base + i)),null]" ] || { stale=$((stale + 1)); echo "  after event $i ($it): $got"; }
done
wait $hammer
[ "$i" -ge 15 ] && [ "$stale" = 0 ] && ok "$i events posted under a concurrent reader: every next answer saw its event" \
  || bad "no stale history under a concurrent reader" "$stale of $i answers stale"
stop_server

# the same answers as a server that reads the store every time (cache off), byte for byte
cp "$T/pristine.db" "$T/on.db"; cp "$T/pristine.db" "$T/off.db"
start_server "$T/on.log" --db "$T/on.db" --model "$T/knn.crecm" --sync normal || bad "server starts (cache on)" "$(cat "$T/on.log")"
U_ON=$U PID_ON=$PID; PID=""
start_server "$T/off.log" --db "$T/off.db" --model "$T/knn.crecm" --history-cache 0 --sync normal \
  || bad "server starts (--history-cache 0)" "$(cat "$T/off.log")"
U_OFF=$U
diffs=0
for round in 1 2; do
  for u in $(seq 1 20); do
    a=$(curl -s "$U_ON/v1/users/u$u/recommendations?k=20")
    b=$(curl -s "$U_OFF/v1/users/u$u/recommendations?k=20")
    [ "$a" = "$b" ] || diffs=$((diffs + 1))
  done
  # typed events between the rounds, to both
  for srv in "$U_ON" "$U_OFF"; do
    curl -s -o /dev/null -X POST -d '[{"user":"u2","item":"i5","type":"click"},{"user":"u4","item":"i6","type":"buy"}]' \
      "$srv/v1/events"
  done
done
[ "$diffs" = 0 ] && ok "40 answers byte-for-byte those of --history-cache 0" || bad "answers match --history-cache 0" "$diffs differ"
[ -z "$(U=$U_OFF; metric crec_history_cache_hits_total)" ] && ok "--history-cache 0: no cache" \
  || bad "--history-cache 0: no cache" "$(U=$U_OFF; metric crec_history_cache_hits_total)"
stop_server
kill -KILL "$PID_ON" 2>/dev/null; wait "$PID_ON" 2>/dev/null

# bad values are refused with the option's name
out=$("$CREC" serve --db "$T/s.db" --model "$T/knn.crecm" --history-cache -1 2>&1); rc=$?
[ $rc = 2 ] && grep -q -- "--history-cache" <<<"$out" && ok "--history-cache -1 is refused (exit 2, named)" \
  || bad "--history-cache -1 is refused" "rc $rc: $out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
