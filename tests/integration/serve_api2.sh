#!/usr/bin/env bash
# serve_api2.sh: the rest of the Gorse-style API of `crec serve` (issue 15) against a real server: users searched by
# id prefix (paged by cursor), similar users from the model's user vectors (ials: source "model", cosine, erased
# users never listed; bprmf's hook: tests/unit/test_usersim.c) and from histories (source "history": a user the
# model has no vector for, or asked for),
# the export routes (items and events page by page: small pages concatenate to exactly one big page, the counts
# match /v1/stats, every line goes back through the write routes), item timestamps through the batch route, keys,
# and `crec serve --help` naming every option its parser takes. Usage: serve_api2.sh /path/to/crec
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"
J=(-H 'Content-Type: application/json')

"$CREC" data synth --users 60 --items 40 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model ials --set factors=8 --out "$T/ials.crecm" >/dev/null 2>&1 ||
  { echo "FAIL - train ials"; exit 1; }
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1 || { echo "db import failed"; exit 1; }

# ---- the help names every option the parser takes ----
src="$(dirname "$0")/../../apps/crec/cmd_serve.c"
if [ -f "$src" ]; then
  help=$("$CREC" serve --help)
  synopsis=$(sed '/^$/q' <<<"$help")
  opts=$(grep -o '"--[a-z-]*"' "$src" | tr -d '"' | sort -u)
  missing=""
  for o in $opts; do grep -q -- "\[$o\b\|serve $o\b\| $o " <<<"$synopsis" || missing="$missing $o"; done
  detail=""
  for o in $opts; do grep -q -- "^  $o\b" <<<"$help" || detail="$detail $o"; done
  if [ -z "$missing" ] && [ -z "$detail" ]; then ok "crec serve --help: synopsis and option lines name all $(wc -w <<<"$opts") options"
  else bad "crec serve --help lacks options: synopsis:$missing; option lines:$detail"; fi
fi

if ! start_server "$T/serve.log" --db "$T/s.db" --model "$T/ials.crecm"; then
  bad "server starts" "$(cat "$T/serve.log")"; echo "$pass passed, $fail failed"; exit 1; fi
ok "server starts on port $PORT (ials)"

# ---- users by id prefix ----
req "search users: prefix u1" GET "/v1/search/users?prefix=u1&n=100" 200 '[.users[].id] == ["u1","u10","u11","u12","u13","u14","u15","u16","u17","u18","u19"]
  and .next_cursor == null and all(.users[]; .labels == [])'
req "search users: page 1 of 2" GET "/v1/search/users?prefix=u1&n=6" 200 '[.users[].id] == ["u1","u10","u11","u12","u13","u14"]
  and .next_cursor == "u14"'
cur=$(jq -r .next_cursor "$T/body")
req "search users: page 2 follows" GET "/v1/search/users?prefix=u1&n=6&cursor=$cur" 200 \
  '[.users[].id] == ["u15","u16","u17","u18","u19"] and .next_cursor == null'
req "search users: labels shown" PUT /v1/users/u1x 201 '.labels == ["vip"]' "${J[@]}" -d '{"labels": ["vip"]}'
req "search users: the new user" GET "/v1/search/users?prefix=u1x" 200 '.users == [{"id": "u1x", "labels": ["vip"]}]'
req "search users: nothing" GET "/v1/search/users?prefix=zz" 200 '.users == [] and .next_cursor == null'
req "search users: empty prefix = every user" GET "/v1/search/users?n=1000" 200 '(.users | length) == 61'
req "search users: n=0" GET "/v1/search/users?n=0" 400 '.error.code == "bad_parameter"'
req "search users: a control character" GET "/v1/search/users?prefix=a%01" 400 '.error.code == "bad_parameter"'
req "search users: exactly one page" GET "/v1/search/users?prefix=u1&n=12" 200 '(.users | length) == 12 and .users[11].id == "u1x" and .next_cursor == null'
req "search users: bad cursor" GET "/v1/search/users?cursor=a%01" 400 '.error.code == "bad_parameter"'

# ---- similar users: the model's vectors, or the histories ----
req "similar users from the model (ials)" GET "/v1/users/u1/similar?k=5" 200 '.source == "model" and .method == "cosine"
  and .model == "ials" and (.users | length) == 5 and all(.users[]; .id != "u1" and .score <= 1.000001 and .score >= -1.000001)
  and ([.users[].score] == ([.users[].score] | sort | reverse)) and (.users[0] | has("common_items") | not)'
top=$(jq -r '.users[0].id' "$T/body")
rest=$(jq -c '[.users[1:][].id]' "$T/body")
req "similar users: source=history asks for the histories" GET "/v1/users/u1/similar?k=3&source=history" 200 \
  '.source == "history" and .method == "jaccard" and (.users | length) == 3 and all(.users[]; .common_items > 0)'
req "erase the nearest user" DELETE "/v1/users/$top" 200 ''
req "... who is no longer a neighbour" GET "/v1/users/u1/similar?k=5" 200 ".source == \"model\" and (.users | length) == 5
  and ([.users[].id] | index(\"$top\")) == null and [.users[:4][].id] == $rest"
post /v1/events '[{"user": "fresh", "item": "i1"}, {"user": "fresh", "item": "i2"}]' >/dev/null
req "a user the model has no vector for: the histories" GET "/v1/users/fresh/similar?k=3" 200 '.source == "history"
  and .method == "jaccard" and all(.users[]; .common_items > 0)'
req "... source=model is a 409" GET "/v1/users/fresh/similar?source=model" 409 '.error.code == "no_user_vector"'
req "similar users: bad source" GET "/v1/users/u1/similar?source=both" 400 '.error.code == "bad_parameter"'
req "similar users: an erased user" GET "/v1/users/$top/similar" 404 '.error.code == "user_not_found"'

# ---- export: items and events page by page ----
req "batch with timestamps" POST /v1/items/batch 200 '.created == 1' "${J[@]}" \
  -d '[{"id": "x1", "title": "X one", "text": "a, \"quoted\"\nline", "attributes": ["new", "b|c"], "visible": false, "timestamp": 1234567}]'
req "... the creation time is kept" GET "/v1/items/latest?k=1000" 200 'any(.items[]; .id == "x1" and .timestamp == 1234567)'
req "batch: a bad timestamp" POST /v1/items/batch 400 '.error.message | test("item 1")' "${J[@]}" \
  -d '[{"id": "x2"}, {"id": "x3", "timestamp": "soon"}]'
get "/v1/stats" >"$T/stats"
n_items=$(jq .items "$T/stats"); n_events=$(jq .events "$T/stats")
req "export items: one page" GET "/v1/export/items?limit=1000" 200 "(.items | length) == $n_items and .next_after == null
  and (.items | map(select(.id == \"x1\"))[0]) == {\"id\":\"x1\",\"title\":\"X one\",\"text\":\"a, \\\"quoted\\\"\\nline\",
  \"attributes\":[\"b|c\",\"new\"],\"visible\":false,\"timestamp\":1234567}"
jq -c '.items[]' "$T/body" >"$T/items-all"
: >"$T/items-paged"; after=""
for _ in $(seq 1 100); do
  get "/v1/export/items?limit=7${after:+&after=$after}" >"$T/page"
  jq -c '.items[]' "$T/page" >>"$T/items-paged"
  after=$(jq -r '.next_after // empty' "$T/page"); [ -z "$after" ] && break
done
if cmp -s "$T/items-all" "$T/items-paged"; then ok "export items: pages of 7 give the one page ($n_items items)"
else bad "export items: pages of 7 differ from one page" "$(diff "$T/items-all" "$T/items-paged" | head)"; fi
req "export events: one page" GET "/v1/export/events?limit=10000" 200 "(.events | length) == $n_events and .next_cursor == null
  and all(.events[]; (.user | type) == \"string\" and (.item | type) == \"string\" and (.type | type) == \"string\"
  and (.value | type) == \"number\" and (.ts | type) == \"number\")"
jq -c '.events[]' "$T/body" >"$T/events-all"
: >"$T/events-paged"; cur=""; pages=0
for _ in $(seq 1 1000); do
  get "/v1/export/events?limit=40${cur:+&cursor=$cur}" >"$T/page"
  jq -c '.events[]' "$T/page" >>"$T/events-paged"; pages=$((pages + 1))
  cur=$(jq -r '.next_cursor // empty' "$T/page"); [ -z "$cur" ] && break
done
if cmp -s "$T/events-all" "$T/events-paged"; then ok "export events: $pages pages of 40 (cut inside users) give the one page ($n_events events)"
else bad "export events: pages of 40 differ from one page" "$(diff "$T/events-all" "$T/events-paged" | head)"; fi
req "export events: a bad cursor" GET "/v1/export/events?cursor=3.x" 400 '.error.code == "bad_parameter"'
req "export events: limit over 10000" GET "/v1/export/events?limit=10001" 400 '.error.code == "bad_parameter"'
req "export items: bad after" GET "/v1/export/items?after=-1" 400 '.error.code == "bad_parameter"'
# what export gives, the write routes take back: the events of u2 posted again double u2's count
u2=$(jq -s -c 'map(select(.user == "u2"))' "$T/events-all")
req "exported events post back" POST /v1/events 200 ".accepted == $(jq length <<<"$u2")" "${J[@]}" -d "$u2"
req "exported items post back" POST /v1/items/batch 200 ".replaced == $n_items" "${J[@]}" -d "$(jq -s -c . "$T/items-all")"
req "... unchanged" GET "/v1/export/items?limit=1000" 200 "(.items | map(tojson)) == $(jq -s -c 'map(tojson)' "$T/items-all")"
stop_server

# ---- keys: search and export are private ----
if CREC_API_KEYS="k1" start_server "$T/serve2.log" --db "$T/s.db" --model "$T/ials.crecm"; then
  req "search users needs a key" GET "/v1/search/users?prefix=u" 401 ''
  req "search users with a key" GET "/v1/search/users?prefix=u2&n=1" 200 '.users[0].id == "u2"' -H 'X-API-Key: k1'
  req "export items needs a key" GET /v1/export/items 401 ''
  req "export events needs a key" GET /v1/export/events 403 '' -H 'X-API-Key: nope'
  req "export events with a key" GET "/v1/export/events?limit=3" 200 '(.events | length) == 3' -H 'Authorization: Bearer k1'
  req "similar users needs a key" GET /v1/users/u1/similar 401 ''
  stop_server
else bad "server with a key starts" "$(cat "$T/serve2.log")"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
