#!/usr/bin/env bash
# serve_chain.sh: the fallback chain of `crec serve --fallback model[,BACKUP.crecm...][,popular]` over real HTTP:
# itemknn (short lists: few items with evidence) completed by a markov backup trained on the same data, then the
# popular items; without "popular" a cold user gets an empty list; chains that cannot work are refused at
# start (exit 2, the message names the part). Usage: serve_chain.sh /path/to/crec
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"

"$CREC" data synth --users 80 --items 300 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" data synth --users 30 --items 25 --seed 9 --out "$T/other.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model itemknn --out "$T/knn.crecm" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model markov --out "$T/markov.crecm" >/dev/null 2>&1
"$CREC" train --data "$T/other.crecds" --model markov --out "$T/other.crecm" >/dev/null 2>&1
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1 || { echo "db import failed"; exit 1; }
cp "$T/s.db" "$T/pristine.db"

# the default chain (model, popular): no backup_items; itemknn's short list is completed by popular items
if ! start_server "$T/a.log" --db "$T/s.db" --model "$T/knn.crecm"; then
  bad "server starts" "$(cat "$T/a.log")"; echo "$pass passed, $fail failed"; exit 1; fi
K=200 # u3 has 5 events: itemknn has evidence for fewer than K of the 300 items
req "default chain: no backup_items field" GET "/v1/users/u3/recommendations?k=$K" 200 \
  '.source == "model" and (has("backup_items") | not) and (.items | length) == '$K
main_n=$(jq '(.items | length) - .fallback_items' "$T/body")
[ "$main_n" -lt $K ] && ok "itemknn alone has evidence for $main_n of $K items (the rest popular)" \
  || bad "itemknn's list is short at k=$K (the test needs that)" "$main_n"
stop_server

# model, markov, popular
if ! start_server "$T/b.log" --db "$T/s.db" --model "$T/knn.crecm" --fallback "model,$T/markov.crecm,popular"; then
  bad "server starts with a backup model" "$(cat "$T/b.log")"; echo "$pass passed, $fail failed"; exit 1; fi
ok "server starts with --fallback model,markov.crecm,popular"
req "the backup completes the list" GET "/v1/users/u3/recommendations?k=$K" 200 \
  ".source == \"model\" and .backup_items == ($K - $main_n) and .fallback_items == 0 and (.items | length) == $K
   and ([.items[].id] | unique | length) == $K"
req "the same first items as the model alone" GET "/v1/users/u3/recommendations?k=$main_n" 200 \
  '.backup_items == 0 and .fallback_items == 0'
seen=$(curl -s "$U/v1/users/u3" | jq -c '[.history[].item]')
req "seen items stay out of the backup's part" GET "/v1/users/u3/recommendations?k=$K" 200 \
  "([.items[].id] - $seen | length) == $K and ($seen | length) == 5"
req "a cold user: popular, the backup not asked" GET "/v1/users/nobody/recommendations?k=5" 200 \
  '.source == "popular" and .backup_items == 0 and .fallback_items == 5'
req "similar items use the chain too" GET "/v1/items/i1/similar?k=$K" 200 '(.items | length) == '$K' and .backup_items > 0'
a=$(get "/v1/users/u3/recommendations?k=$K" | jq -c '[.backup_items, [.items[].id]]')
req "the object path (write_back) says the same" GET "/v1/users/u3/recommendations?k=$K&write_back=shown" 200 \
  "[.backup_items, [.items[].id]] == $a"
stop_server

# model alone: no popular fallback
rm -f "$T/s.db-wal" "$T/s.db-shm"; cp "$T/pristine.db" "$T/s.db" # write_back=shown above added events to u3
if ! start_server "$T/c.log" --db "$T/s.db" --model "$T/knn.crecm" --fallback model; then
  bad "server starts with --fallback model" "$(cat "$T/c.log")"; echo "$pass passed, $fail failed"; exit 1; fi
req "--fallback model: a short list stays short" GET "/v1/users/u3/recommendations?k=$K" 200 \
  ".fallback_items == 0 and (.items | length) == $main_n"
req "--fallback model: a cold user gets nothing" GET "/v1/users/nobody/recommendations?k=5" 200 \
  '(.items | length) == 0 and .fallback_items == 0'
req "--fallback model: /v1/popular is empty" GET "/v1/popular?k=5" 200 '(.items | length) == 0'
stop_server

# refused at start
refused() {
  local name=$1 want_rc=$2 want=$3; shift 3
  "$CREC" serve --port 0 --db "$T/s.db" --model "$T/knn.crecm" "$@" >"$T/r.out" 2>&1 &
  local p=$! rc
  for _ in $(seq 1 100); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
  if kill -0 $p 2>/dev/null; then kill $p; wait $p 2>/dev/null; bad "$name: refused" "it started"; return; fi
  wait $p; rc=$?
  if [ "$rc" = "$want_rc" ] && grep -q -- "$want" "$T/r.out"; then ok "$name: exit $rc, '$want'"
  else bad "$name: exit $want_rc naming '$want'" "rc $rc: $(cat "$T/r.out")"; fi
}
refused "a backup of another dataset" 2 "not trained on the served model's dataset" --fallback "model,$T/other.crecm"
refused "a chain not starting with model" 2 "starts with 'model'" --fallback "popular"
refused "something after popular" 2 "end of the chain" --fallback "model,popular,$T/markov.crecm"
refused "a missing backup file" 1 "cannot load the model" --fallback "model,$T/nope.crecm"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
