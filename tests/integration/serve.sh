#!/usr/bin/env bash
# serve.sh: drives the real `crec serve` over HTTP on a free loopback port: every route with exact fields,
# malformed JSON, wrong types, oversized and too-deep bodies, unknown ids, missing and wrong API keys,
# concurrent writers, reloads under load, and a kill -9 in the middle of an ingest after which every
# acknowledged event must be in the store. Needs curl and jq. Usage: serve.sh /path/to/crec
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"

# ---- help texts and usage errors ----
for c in "serve" "db" "db import" "db export" "db info"; do
  # shellcheck disable=SC2086
  if "$CREC" $c --help 2>&1 | grep -q "usage: crec $c"; then ok "crec $c --help"; else bad "crec $c --help"; fi
done
out=$("$CREC" serve --model x.crecm 2>&1); rc=$?
if [ $rc = 2 ] && grep -q "\-\-db and --model are required" <<<"$out"; then ok "serve without --db"; else bad "serve without --db ($rc)" "$out"; fi
out=$("$CREC" db info --db "$T/none.db" 2>&1); rc=$?
if [ $rc = 1 ] && grep -q "no such file" <<<"$out"; then ok "db info of a missing store"; else bad "db info of a missing store ($rc)" "$out"; fi

# ---- data, models, store ----
"$CREC" data synth --users 200 --items 80 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model itemknn --out "$T/knn.crecm" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model pop --out "$T/pop.crecm" >/dev/null 2>&1
"$CREC" data synth --users 50 --items 30 --out "$T/other.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/other.crecds" --model pop --out "$T/other.crecm" >/dev/null 2>&1
out=$("$CREC" db import --db "$T/s.db" --data "$T/s.crecds" 2>&1)
if grep -qE "200 users, 80 items, [0-9]+ events added" <<<"$out"; then ok "db import"; else bad "db import" "$out"; fi
n_events=$("$CREC" db info --db "$T/s.db" --json | jq .events)
"$CREC" db export --db "$T/s.db" --out "$T/export.crecds" >/dev/null 2>&1
if [ "$("$CREC" data info "$T/export.crecds" --json | jq "[.users, .items, .interactions] == [200, 80, $n_events]")" = true ]; then
  ok "db export: the snapshot has every user, item and event"; else bad "db export"; fi

out=$("$CREC" serve --db "$T/s.db" --model "$T/knn.crecm" --host 0.0.0.0 --port 0 2>&1); rc=$?
if [ $rc = 2 ] && grep -q "refusing to listen on 0.0.0.0 without an API key" <<<"$out"; then
  ok "a public bind without a key is refused"; else bad "a public bind without a key is refused ($rc)" "$out"; fi
# a key source that holds no key is an error at start, never silently open writes
: >"$T/nokeys"
for src in "file" "," " "; do
  # (a server that starts anyway would run on: timeout stops it, and the check fails)
  if [ "$src" = file ]; then out=$(timeout 5 "$CREC" serve --db "$T/s.db" --model "$T/knn.crecm" --port 0 --api-key-file "$T/nokeys" 2>&1)
  else out=$(CREC_API_KEYS="$src" timeout 5 "$CREC" serve --db "$T/s.db" --model "$T/knn.crecm" --port 0 2>&1); fi; rc=$?
  if [ $rc = 2 ] && grep -q "holds no key" <<<"$out"; then ok "an empty key source ('$src') is refused at start"
  else bad "an empty key source ('$src') is refused at start ($rc)" "$out"; fi
done
out=$("$CREC" serve --db "$T/s.db" --model "$T/other.crecm" --port 0 2>&1); rc=$?
if [ $rc = 1 ] && grep -q "does not match" <<<"$out"; then ok "a model of other data is refused at start";
else bad "a model of other data is refused at start ($rc)" "$out"; fi

if ! start_server "$T/serve.log" --db "$T/s.db" --model "$T/knn.crecm"; then
  bad "server starts" "$(cat "$T/serve.log")"; echo "$pass passed, $fail failed"; exit 1; fi
ok "server starts on port $PORT"

# ---- health, docs, dashboard ----
req "healthz" GET /healthz 200 '.status == "ok" and .model == "itemknn" and .model_version == 1'
req "openapi.json describes every route" GET /openapi.json 200 '.paths | has("/v1/users/{id}/recommendations")
  and has("/v1/sessions/recommendations") and has("/v1/items/{id}/similar") and has("/v1/popular")
  and has("/v1/events") and has("/v1/items") and has("/v1/items/{id}") and has("/v1/users/{id}")
  and has("/v1/admin/reload") and has("/v1/stats") and has("/healthz") and has("/metrics") and has("/")'
code=$(curl -s -o "$T/index" -w '%{http_code} %{content_type}' "$U/")
if [ "$code" = "200 text/html; charset=utf-8" ] && grep -q "<title>crec" "$T/index"; then ok "dashboard page";
else bad "dashboard page ($code)"; fi
code=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$U/app.js")
if [ "$code" = "200 text/javascript; charset=utf-8" ]; then ok "dashboard script"; else bad "dashboard script ($code)"; fi
req "unknown asset" GET /nope.js 404 '.error.code == "not_found"'
req "stats" GET /v1/stats 200 ".users == 200 and .items == 80 and .events == $n_events and .model.name == \"itemknn\"
  and .model.data == \"store snapshot\""

# ---- recommendations for a known user ----
req "user recs" GET "/v1/users/u1/recommendations?k=5" 200 '.user == "u1" and .known_user == true
  and .source == "model" and (.items | length) == 5 and all(.items[]; (.title | type) == "string"
  and (.score | type) == "number" and (.attributes | length) > 0)'
get "/v1/users/u1?limit=1000" >"$T/u1.json"
get "/v1/users/u1/recommendations?k=80" >"$T/r1.json"
n_hist=$(jq '.n_events' "$T/u1.json")
both=$(jq -n --slurpfile r "$T/r1.json" --slurpfile h "$T/u1.json" \
  '[$r[0].items[].id] as $ids | ($ids - ($ids - [$h[0].history[].item])) | length')
if [ "$n_hist" -gt 0 ] && [ "$both" = 0 ] && [ "$(jq '.items | length' "$T/r1.json")" = $((80 - n_hist)) ]; then
  ok "seen items are excluded ($n_hist events in history)"; else bad "seen items are excluded ($both seen)"; fi
top1=$(jq -r '.items[0].id' "$T/r1.json"); top2=$(jq -r '.items[1].id' "$T/r1.json")
req "exclude=" GET "/v1/users/u1/recommendations?k=3&exclude=$top1,nope" 200 \
  ".items[0].id == \"$top2\" and all(.items[]; .id != \"$top1\")"
cat=$(jq -r '.items[0].attributes[0]' "$T/r1.json")
req "category=" GET "/v1/users/u1/recommendations?k=5&category=$cat" 200 \
  "(.items | length) > 0 and all(.items[]; .attributes | index(\"$cat\") != null)"
req "keep_seen=true may return seen items" GET "/v1/users/u1/recommendations?k=80&keep_seen=true" 200 '(.items | length) == 80'
req "k=0 is refused" GET "/v1/users/u1/recommendations?k=0" 400 '.error.code == "bad_parameter"'
req "k=1001 is refused" GET "/v1/users/u1/recommendations?k=1001" 400 '.error.code == "bad_parameter"'
req "k=abc is refused" GET "/v1/users/u1/recommendations?k=abc" 400 '.error.code == "bad_parameter"'
req "keep_seen=maybe is refused" GET "/v1/users/u1/recommendations?keep_seen=maybe" 400 '.error.code == "bad_parameter"'
req "a control character in the id" GET "/v1/users/a%01b/recommendations" 400 '.error.code == "bad_id"'
# the path is percent-decoded once, then routed; a %00 never cuts it short (it used to route .../u1%00/... to u1)
req "a %00 in the id" GET "/v1/users/u1%00/recommendations" 400 '.error.code == "bad_id"'
req "a %00 that would change the route" GET "/v1/users/5%00/recommendations" 400 '.error.code == "bad_id"'
req "a %00 in a literal segment" GET "/v1/pop%00ular" 400 '.error.code == "bad_request"'
req "a %00 in a query value" GET "/v1/popular?k=5%00" 400 '.error.code == "bad_parameter"'
req "an encoded literal segment is routed decoded" GET "/v1/%70opular?k=2" 200 '(.items | length) == 2'
long=$(printf 'x%.0s' $(seq 1 300))
req "an id over 256 bytes" GET "/v1/users/$long/recommendations" 400 '.error.code == "bad_id"'
# a fresh event counts at once: the item just seen leaves the list
post /v1/events "[{\"user\": \"u1\", \"item\": \"$top1\"}]" >/dev/null
req "a fresh event is seen at once" GET "/v1/users/u1/recommendations?k=5" 200 \
  "all(.items[]; .id != \"$top1\") and .history_length == $((n_hist + 1))"

# ---- cold start ----
get "/v1/popular?k=4" >"$T/pop.json"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$U/v1/users/ghost/recommendations?k=4")
if [ "$code" = 200 ] && [ "$(jq --slurpfile p "$T/pop.json" '.source == "popular" and .known_user == false
     and [.items[].id] == [$p[0].items[].id]' "$T/body")" = true ]; then
  ok "a user with no events gets the popular items"; else bad "cold user -> popular ($code)" "$(cat "$T/body")"; fi
req "popular: scores descend" GET "/v1/popular?k=10" 200 '(.items | length) == 10 and .source == "popular"
  and ([.items[].score] == ([.items[].score] | sort | reverse))'
req "popular with a category" GET "/v1/popular?k=5&category=$cat" 200 \
  "all(.items[]; .attributes | index(\"$cat\") != null)"
post /v1/events '[{"user": "newbie", "item": "i3", "type": "click", "value": 2, "ts": 1700000000}]' >/dev/null
req "a new user with one event is scored from it" GET "/v1/users/newbie/recommendations?k=3" 200 \
  '.source == "model:history" and .known_user == false and .history_length == 1 and all(.items[]; .id != "i3")'
req "user history" GET /v1/users/newbie 200 '.n_events == 1 and .known_to_model == false
  and .history[0].item == "i3" and .history[0].type == "click" and .history[0].value == 2
  and .history[0].ts == 1700000000 and (.history[0].title | type) == "string"'
req "unknown user" GET /v1/users/nobody-at-all 404 '.error.code == "user_not_found"'

# ---- sessions, similar ----
req "session recs" POST /v1/sessions/recommendations 200 '.source == "model:history" and (.items | length) == 3
  and all(.items[]; .id != "i1" and .id != "i2") and .unknown_items == ["zzz"] and .history_length == 3' \
  -d '{"history": ["i1", "i2", "zzz"], "k": 3}'
req "session of unknown items -> popular" POST /v1/sessions/recommendations 200 '.source == "popular"' \
  -d '{"history": ["zzz"]}'
req "session without history" POST /v1/sessions/recommendations 400 '.error.code == "bad_request"' -d '{"k": 3}'
req "session history not an array" POST /v1/sessions/recommendations 400 '.error.code == "bad_request"' \
  -d '{"history": "i1"}'
req "session k of the wrong type" POST /v1/sessions/recommendations 400 '.error.code == "bad_parameter"' \
  -d '{"history": ["i1"], "k": "3"}'
req "session malformed JSON" POST /v1/sessions/recommendations 400 '.error.code == "bad_json"' -d '{"history": [}'
req "similar items" GET "/v1/items/i1/similar?k=4" 200 '.item == "i1" and .source == "model:history"
  and (.items | length) == 4 and all(.items[]; .id != "i1")'
req "similar to an unknown item" GET /v1/items/nope/similar 404 '.error.code == "item_not_found"'

# ---- events: validation ----
req "events batch" POST /v1/events 200 '.accepted == 2' -d '[{"user": "e1", "item": "i1"}, {"user": "e1", "item": "i2", "value": 3.5}]'
req "events: malformed JSON" POST /v1/events 400 '.error.code == "bad_json"' -d '[{"user": "e1",'
req "events: not an array" POST /v1/events 400 '.error.code == "bad_request"' -d '{"user": "e1", "item": "i1"}'
req "events: empty batch" POST /v1/events 400 '.error.code == "bad_request"' -d '[]'
req "events: user missing" POST /v1/events 400 '.error.message | test("event 0: \"user\" is required")' -d '[{"item": "i1"}]'
req "events: value of the wrong type" POST /v1/events 400 '.error.message | test("value")' \
  -d '[{"user": "e1", "item": "i1", "value": "high"}]'
req "events: negative ts" POST /v1/events 400 '.error.message | test("ts")' -d '[{"user": "e1", "item": "i1", "ts": -5}]'
req "events: an unknown item rejects the whole batch" POST /v1/events 404 '.error.code == "item_not_found"
  and (.error.message | test("event 1"))' -d '[{"user": "e2", "item": "i1"}, {"user": "e2", "item": "ghost-item"}]'
req "... and nothing of it was written" GET /v1/users/e2 404 '.error.code == "user_not_found"'
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big.json"
req "a body over 1 MiB" POST /v1/events 413 '.error.code == "body_too_large"' --data-binary "@$T/big.json"
req "a chunked body over 1 MiB" POST /v1/events 413 '.error.code == "body_too_large"' \
  -H 'Transfer-Encoding: chunked' --data-binary "@$T/big.json"
deep=$(printf '[%.0s' $(seq 1 200))$(printf ']%.0s' $(seq 1 200))
req "JSON nested 200 deep" POST /v1/events 400 '.error.code == "too_deep"' -d "$deep"
req "a NUL in a string" POST /v1/events 400 '.error.code == "bad_json"' -d '[{"user": "a\u0000b", "item": "i1"}]'
req "unknown route" GET /v2/things 404 '.error.code == "not_found"'
allow=$(curl -s -o "$T/body" -D - -X DELETE "$U/v1/events" | tr -d '\r' | grep -i '^allow:')
if [ "$allow" = "Allow: POST" ] && [ "$(jq -r .error.code "$T/body")" = method_not_allowed ]; then
  ok "wrong method: 405 with Allow"; else bad "wrong method: 405 with Allow ($allow)" "$(cat "$T/body")"; fi

# ---- items ----
req "create an item" POST /v1/items 201 '.id == "new1" and .title == "New thing" and .attributes == ["a", "b"]' \
  -d '{"id": "new1", "title": "New thing", "text": "about it", "attributes": ["b", "a"]}'
req "create it again" POST /v1/items 409 '.error.code == "exists"' -d '{"id": "new1"}'
req "item without id" POST /v1/items 400 '.error.code == "bad_request"' -d '{"title": "x"}'
req "item attributes of the wrong type" POST /v1/items 400 '.error.code == "bad_request"' -d '{"id": "x", "attributes": "a"}'
req "get the item" GET /v1/items/new1 200 '.text == "about it" and .n_events == 0 and .in_model == false and .visible == true'
req "get a model item" GET /v1/items/i1 200 '.in_model == true and .n_events > 0'
req "replace the item" PUT /v1/items/new1 200 '.title == "Renamed" and .attributes == []' -d '{"title": "Renamed"}'
req "put creates" PUT /v1/items/new2 201 '.id == "new2"' -d '{"title": "Second"}'
req "put with another id in the body" PUT /v1/items/new2 400 '.error.code == "bad_request"' -d '{"id": "new3"}'
req "list the catalog" GET "/v1/items?limit=2" 200 '(.items | length) == 2 and .next_after == 2'
req "list, next page" GET "/v1/items?limit=2&after=2" 200 '.items[0].id == "i3"'
req "list, last page" GET "/v1/items?limit=1000&after=80" 200 '(.items | length) == 2 and .next_after == null'
post /v1/events '[{"user": "e3", "item": "new2"}, {"user": "e3", "item": "new2"}]' >/dev/null
req "delete an item and its events" DELETE /v1/items/new2 200 '.deleted == "new2" and .events_deleted == 2'
req "the item is gone" GET /v1/items/new2 404 '.error.code == "item_not_found"'
pop1=$(get "/v1/popular?k=1" | jq -r '.items[0].id')
req "hide the most popular item" PUT "/v1/items/$pop1" 200 '.visible == false' -d '{"visible": false}'
req "a hidden item is never recommended" GET "/v1/popular?k=80" 200 "all(.items[]; .id != \"$pop1\")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -d '{"history": ["i1", "i2", "i3"], "k": 80}' "$U/v1/sessions/recommendations")
if [ "$(jq "all(.items[]; .id != \"$pop1\")" "$T/body")" = true ]; then ok "... nor by the model"; else bad "hidden by the model"; fi

# ---- users: the right to erasure ----
req "delete a user" DELETE /v1/users/newbie 200 '.deleted == "newbie" and .events_deleted == 1'
req "the user is gone" GET /v1/users/newbie 404 '.error.code == "user_not_found"'
req "delete again" DELETE /v1/users/newbie 404 '.error.code == "user_not_found"'
# a user the model knows whose events were erased: no evidence left, so the popular fallback says so (it used
# to answer source "model" with items 1, 2, 3, ... scored 0)
req "erase a user the model knows" DELETE /v1/users/u7 200 '.deleted == "u7"'
req "... their recommendations come from the fallback" GET "/v1/users/u7/recommendations?k=5" 200 \
  '.known_user == true and .source == "popular" and .fallback_items == 5 and all(.items[]; .score > 0)'
req "similar items: no zero-score padding" GET "/v1/items/i1/similar?k=79" 200 \
  '(.items | length) as $n | .fallback_items as $f | $f != null and all(.items[0:($n - $f)][]; .score > 0)
   and ([.items[].id] | unique | length) == $n'

# ---- concurrent writers ----
for w in 1 2 3 4; do
  ( for b in $(seq 1 20); do
      post /v1/events "[{\"user\":\"w$w\",\"item\":\"i$b\"},{\"user\":\"w$w\",\"item\":\"i$((b + 20))\"}]" |
        grep -q '"accepted":2' || echo "writer $w batch $b failed"
    done ) >"$T/w$w.log" 2>&1 &
done
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null
errs=$(cat "$T"/w*.log)
counts=$(for w in 1 2 3 4; do get "/v1/users/w$w" | jq .n_events; done | tr '\n' ' ')
if [ -z "$errs" ] && [ "$counts" = "40 40 40 40 " ]; then ok "4 concurrent writers: every batch committed";
else bad "concurrent writers ($counts)" "$errs"; fi

# ---- reload under load ----
( for _ in $(seq 1 150); do
    curl -s -o /dev/null -w '%{http_code}\n' "$U/v1/users/u2/recommendations?k=5"
  done ) >"$T/load.log" &
LOAD=$!
req "reload the same model" POST /v1/admin/reload 200 '.model == "itemknn" and .model_version == 2'
req "reload another model" POST /v1/admin/reload 200 '.model == "pop" and .model_version == 3' -d "{\"model\": \"$T/pop.crecm\"}"
req "reload a missing file" POST /v1/admin/reload 404 '.error.code == "file_not_found"' -d "{\"model\": \"$T/nope.crecm\"}"
req "reload a model of other data" POST /v1/admin/reload 409 '.error.code == "model_mismatch"' -d "{\"model\": \"$T/other.crecm\"}"
# a model with the dataset it was trained on, whose ids are none of the store's: every answer would be popular
printf 'visitor,product,ts\n' >"$T/x.csv"
for u in 1 2 3 4 5 6; do for p in 1 2 3 4; do echo "v$u,p$((u + p)),$((u * 10 + p))" >>"$T/x.csv"; done; done
"$CREC" data import --format csv --input "$T/x.csv" --user-col visitor --item-col product --time-col ts \
  --out "$T/x.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/x.crecds" --model pop --out "$T/x.crecm" >/dev/null 2>&1
req "reload a model whose dataset shares no id with the store" POST /v1/admin/reload 409 \
  '.error.code == "model_mismatch" and (.error.message | test("shares no item id"))' \
  -d "{\"model\": \"$T/x.crecm\", \"data\": \"$T/x.crecds\"}"
echo "not a model" >"$T/junk.crecm"
req "reload a file that is not a model" POST /v1/admin/reload 400 '.error.code == "bad_model"' -d "{\"model\": \"$T/junk.crecm\"}"
req "reload with the wrong type" POST /v1/admin/reload 400 '.error.code == "bad_request"' -d '{"model": 5}'
req "reload back to itemknn" POST /v1/admin/reload 200 '.model == "itemknn" and .model_version == 4' -d "{\"model\": \"$T/knn.crecm\"}"
wait $LOAD
if [ "$(sort "$T/load.log" | uniq -c | awk '{print $1 " " $2}')" = "150 200" ]; then
  ok "150 requests during 5 reloads: all 200"; else bad "requests during reloads" "$(sort "$T/load.log" | uniq -c)"; fi
req "the failed reloads kept the model" GET /healthz 200 '.model == "itemknn" and .model_version == 4'

# ---- metrics ----
curl -s "$U/metrics" >"$T/metrics"
if grep -qE '^crec_http_requests_total\{route="/healthz",code="2xx"\} [2-9]' "$T/metrics" &&
   grep -qE '^crec_http_request_duration_seconds_count\{route="/v1/users/\{id\}/recommendations"\} [0-9]+' "$T/metrics" &&
   grep -qE '^crec_http_requests_total\{route="/v1/events",code="4xx"\} [1-9]' "$T/metrics" &&
   grep -qE '^crec_events_ingested_total [0-9]+' "$T/metrics" &&
   grep -qE '^crec_model_info\{name="itemknn",.*version="4"\} 1' "$T/metrics" &&
   grep -qE '^crec_model_reloads_total 3$' "$T/metrics" && grep -qE '^crec_model_reload_failures_total 4$' "$T/metrics" &&
   grep -qE '^crec_body_rejected_total 2$' "$T/metrics"; then ok "metrics"; else bad "metrics" "$(grep -v '^#' "$T/metrics" | grep -v bucket | grep -v duration | tail -25)"; fi

# a clean stop: SIGTERM, exit 0 (and no sanitizer report when built with one)
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=""
if [ $rc = 0 ] && ! grep -q "Sanitizer" "$T/serve.log"; then ok "SIGTERM stops the server cleanly";
else bad "clean stop (exit $rc)" "$(tail -30 "$T/serve.log")"; fi

# ---- item writes during a reload: none is lost (a reload used to swap in a catalog read before a write).
# CREC_TEST_RELOAD_PAUSE_MS holds the reload between its scan of the store and its swap: the hides land there.
cp "$T/s.db" "$T/h.db"
if CREC_TEST_RELOAD_PAUSE_MS=2500 start_server "$T/serve-h.log" --db "$T/h.db" --model "$T/knn.crecm" \
     --max-conns-per-client 32; then
  curl -s -o "$T/reload-h" -X POST "$U/v1/admin/reload" &
  RL=$!
  sleep 1
  urls=(); for i in $(seq 1 20); do urls+=(-o /dev/null "$U/v1/items/i$i"); done
  hidden=$(curl -s --max-time 20 -X PUT -d '{"visible": false}' -w '%{http_code}\n' "${urls[@]}" | grep -c '^200$')
  wait $RL
  leaked=$(get "/v1/popular?k=1000" | jq '[.items[].id | select(test("^i([1-9]|1[0-9]|20)$"))] | length')
  if [ "$hidden" = 20 ] && [ "$leaked" = 0 ] && [ "$(jq .model_version "$T/reload-h")" = 2 ]; then
    ok "20 items hidden during a reload: none is served"
  else bad "items hidden during a reload: $hidden hidden, $leaked still served" "$(cat "$T/reload-h")"; fi
  # one client address holds at most --max-conns-per-client (default 128; 32 here) connections: idle sockets
  # from one place cannot lock everyone out
  fds=()
  for _ in $(seq 1 32); do exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" && fds+=("$fd"); done
  sleep 0.3
  over=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$U/healthz")
  for fd in "${fds[@]}"; do exec {fd}>&-; done
  sleep 0.3
  after=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$U/healthz")
  if [ "${#fds[@]}" = 32 ] && [ "$over" = 000 ] && [ "$after" = 200 ]; then ok "the 33rd connection of one client is refused (--max-conns-per-client 32)"
  else bad "per-client connection cap (${#fds[@]} open, then $over; closed, then $after)"; fi
  stop_server
else bad "server for the hide-during-reload test starts" "$(cat "$T/serve-h.log")"; fi

# ---- API keys ----
echo "# keys" >"$T/keys"; echo "filekey" >>"$T/keys"
if CREC_API_KEYS="k1, k2" start_server "$T/serve2.log" --db "$T/s.db" --model "$T/knn.crecm" --api-key-file "$T/keys"; then
  ev='[{"user": "kk", "item": "i1"}]'
  req "a write without a key" POST /v1/events 401 '.error.code == "unauthorized"' -d "$ev"
  req "a write with a wrong key" POST /v1/events 403 '.error.code == "forbidden"' -H 'Authorization: Bearer nope' -d "$ev"
  req "a write with a Bearer key" POST /v1/events 200 '.accepted == 1' -H 'Authorization: Bearer k2' -d "$ev"
  req "a write with X-API-Key" POST /v1/events 200 '.accepted == 1' -H 'X-API-Key: k1' -d "$ev"
  req "a key from the file" DELETE /v1/users/kk 200 '.events_deleted == 2' -H 'X-API-Key: filekey'
  req "admin without a key" POST /v1/admin/reload 401 '.error.code == "unauthorized"'
  req "reads need no key" GET "/v1/users/u1/recommendations?k=2" 200 '(.items | length) == 2'
  req "a person's history needs a key when keys are set" GET /v1/users/u1 401 '.error.code == "unauthorized"'
  req "... and is read with one" GET /v1/users/u1 200 '.id == "u1"' -H 'X-API-Key: k1'
  req "statistics need a key when keys are set" GET /v1/stats 401 '.error.code == "unauthorized"'
  req "metrics need a key when keys are set" GET /metrics 401 ''
  req "metrics with a key" GET /metrics 200 '' -H 'Authorization: Bearer k2'
  req "healthz stays open" GET /healthz 200 '.status == "ok"'
  req "a session query is a read" POST /v1/sessions/recommendations 200 '.items | length == 2' -d '{"history": ["i1"], "k": 2}'
  stop_server
else bad "server with keys starts" "$(cat "$T/serve2.log")"; fi
if CREC_API_KEYS=k1 start_server "$T/serve3.log" --db "$T/s.db" --model "$T/knn.crecm" --data "$T/s.crecds" \
     --require-key-for-reads; then
  req "--require-key-for-reads: a read without a key" GET /v1/popular 401 '.error.code == "unauthorized"'
  req "--require-key-for-reads: with a key" GET /v1/popular 200 '.items | length == 10' -H 'X-API-Key: k1'
  req "--require-key-for-reads: healthz stays open" GET /healthz 200 '.status == "ok"'
  req "--data names the id space" GET /v1/stats 200 ".model.data == \"file $T/s.crecds\"" -H 'X-API-Key: k1'
  stop_server
else bad "server with --require-key-for-reads starts" "$(cat "$T/serve3.log")"; fi

# ---- writes go through one writer thread with group commit: reads never wait for them ----
# CREC_SERVE_TEST_WRITE_DELAY_MS holds every write transaction open 1.5 s (a slow disk). With ONE pool thread,
# a read must still answer at once while writes wait, and the writes queued meanwhile share one transaction:
# each good one acknowledged, a bad one (unknown item) refused without undoing the others.
if CREC_SERVE_TEST_WRITE_DELAY_MS=1500 start_server "$T/serve6.log" --db "$T/s.db" --model "$T/knn.crecm" --threads 1; then
  before=$(get "/v1/users/group-u" | jq '.history | length' 2>/dev/null || echo 0)
  curl -s -o "$T/g0" -w '%{http_code}' -X POST -d '[{"user":"group-u","item":"i1","value":100}]' "$U/v1/events" >"$T/g0.code" &
  gpids=$!
  sleep 0.3  # the first write is now inside its (held) transaction; the next ones queue behind it
  for k in 1 2 3 4 5; do
    curl -s -o "$T/g$k" -w '%{http_code}' -X POST -d "[{\"user\":\"group-u\",\"item\":\"i$k\",\"value\":$k}]" "$U/v1/events" >"$T/g$k.code" &
    gpids="$gpids $!"
  done
  curl -s -o "$T/gbad" -w '%{http_code}' -X POST -d '[{"user":"group-u","item":"no-such-item"}]' "$U/v1/events" >"$T/gbad.code" &
  gpids="$gpids $!"
  sleep 0.2
  t0=$(date +%s%N)
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$U/v1/popular?k=3")
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ "$code" = 200 ] && [ "$ms" -lt 1000 ]; then ok "a read answers in ${ms} ms while writes wait for a slow commit (1 pool thread)"
  else bad "read behind writes: HTTP $code after ${ms} ms"; fi
  # shellcheck disable=SC2086
  wait $gpids  # (a bare wait would wait for the server too)
  codes=$(cat "$T"/g[0-5].code | tr -d '\n')
  after=$(get "/v1/users/group-u" | jq '.history | length')
  groups=$(get /metrics | awk '/^crec_write_groups_total/ {print $2}')
  reqs=$(get /metrics | awk '/^crec_write_requests_total/ {print $2}')
  if [ "$codes" = 200200200200200200 ] && [ "$(cat "$T/gbad.code")" = 404 ] && [ "$after" = $((before + 6)) ]; then
    ok "six good writes acknowledged and stored, the bad one in the same group refused alone"
  else bad "group commit: codes $codes / $(cat "$T/gbad.code"), history $before -> $after"; fi
  if [ -n "$groups" ] && [ "$reqs" = 7 ] && [ "$groups" -le 3 ]; then ok "7 write requests shared $groups transactions"
  else bad "group commit: $reqs requests in $groups transactions"; fi
  stop_server
else bad "server with a slow writer starts" "$(cat "$T/serve6.log")"; fi

# ---- malformed framing gets JSON 400s; client-caused log lines are rate-limited ----
# raw REQUEST: send it over a fresh TCP connection, print the status line and the body's error code
raw() {
  exec 3<>"/dev/tcp/127.0.0.1/$PORT"
  printf '%b' "$1" >&3
  timeout 2 cat <&3 >"$T/raw" 2>/dev/null
  exec 3>&-
  printf '%s %s' "$(head -1 "$T/raw" | tr -d '\r' | cut -d' ' -f2)" "$(sed -n '/^\r$/,$p' "$T/raw" | tail -n +2 | jq -r .error.code 2>/dev/null)"
}
if start_server "$T/serve7.log" --db "$T/s.db" --model "$T/knn.crecm"; then
  got=$(raw 'GET /v1/popular HTTP/1.1\r\nConnection: close\r\n\r\n')
  if [ "$got" = "400 bad_request" ]; then ok "HTTP/1.1 without Host: JSON 400"; else bad "HTTP/1.1 without Host: $got"; fi
  got=$(raw 'POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n[]')
  if [ "$got" = "400 bad_request" ]; then ok "conflicting Content-Length headers: JSON 400"; else bad "conflicting Content-Length: $got"; fi
  got=$(raw 'GET /v1/popular?k=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  if [ "${got%% *}" = 200 ]; then ok "a well-formed raw request still answers 200"; else bad "raw request: $got"; fi
  # 60 connections dropped mid-body within about a second: MHD complains about each; the log keeps 10 a second
  s0=$(date +%s)
  for _ in $(seq 1 60); do
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nab' >&3
    sleep 0.01
    exec 3>&-
  done
  s1=$(date +%s)
  sleep 1.2
  get /healthz >/dev/null  # a request in a new second lets a pending "left out" line through, if any
  lines=$(grep -c "mhd: Connection was closed" "$T/serve7.log")
  if [ "$lines" -le $((10 * (s1 - s0 + 2))) ] && [ "$lines" -ge 1 ]; then
    ok "60 dropped connections wrote $lines log lines (at most 10 a second)"
  else bad "log rate limit: $lines lines in $((s1 - s0 + 1)) s" "$(tail -5 "$T/serve7.log")"; fi
  stop_server
else bad "server for the framing tests starts" "$(cat "$T/serve7.log")"; fi

# ---- kill -9 in the middle of an ingest: every acknowledged event survives ----
kill9_ingest "$T/s.db" "$T/knn.crecm" "the store"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
