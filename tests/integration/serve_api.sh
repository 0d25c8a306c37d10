#!/usr/bin/env bash
# serve_api.sh: the Gorse-style API of `crec serve` (issue 15) against a real server on a free loopback port:
# users with labels and the user list, item PATCH / batch / latest / categories, feedback by user and item,
# feedback deletion, insert-or-ignore and upsert ingestion, recommendation paging and "shown" write-back,
# similar users, live / ready health - exact fields, 4xx cases and API keys. Usage: serve_api.sh /path/to/crec
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"
J=(-H 'Content-Type: application/json')

"$CREC" data synth --users 60 --items 40 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model itemknn --out "$T/knn.crecm" >/dev/null 2>&1
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1 || { echo "db import failed"; exit 1; }

if ! start_server "$T/serve.log" --db "$T/s.db" --model "$T/knn.crecm"; then
  bad "server starts" "$(cat "$T/serve.log")"; echo "$pass passed, $fail failed"; exit 1; fi
ok "server starts on port $PORT"

# ---- health ----
req "healthz/live" GET /healthz/live 200 '.status == "live" and (.uptime_s | type) == "number"'
req "healthz/ready" GET /healthz/ready 200 '.status == "ready" and .store == true and .model == true and .model_version == 1'
req "healthz stays" GET /healthz 200 '.status == "ok"'
req "healthz/ready is GET only" POST /healthz/ready 405 ''

# ---- users ----
req "PUT a new user with labels" PUT /v1/users/alice 201 '.id == "alice" and .labels == ["f", "premium"]' \
  "${J[@]}" -d '{"labels": ["premium", "f", "premium"]}'
req "PUT replaces the labels" PUT /v1/users/alice 200 '.labels == ["m"]' "${J[@]}" -d '{"labels": ["m"]}'
req "GET user shows labels" GET /v1/users/alice 200 '.id == "alice" and .labels == ["m"] and .n_events == 0'
req "GET user with events has labels []" GET /v1/users/u1 200 '.labels == [] and .n_events > 0'
req "PUT user: labels not an array" PUT /v1/users/bob 400 '.error.code == "bad_parameter" or .error.code == "bad_request"' \
  "${J[@]}" -d '{"labels": "x"}'
req "PUT user: unknown field" PUT /v1/users/bob 400 '.error.code == "bad_request"' "${J[@]}" -d '{"age": 3}'
req "PUT user: id differs" PUT /v1/users/bob 400 '.error.code == "bad_request"' "${J[@]}" -d '{"id": "carol"}'
req "PUT user: bad JSON" PUT /v1/users/bob 400 '.error.code == "bad_json"' "${J[@]}" -d '{"labels": ['
req "PUT user without a body" PUT /v1/users/bob 201 '.labels == []'
req "users: first page" GET "/v1/users?limit=2" 200 '(.users | length) == 2 and .users[0].id == "u1"
  and .users[0].labels == [] and (.next_after | type) == "number"'
next=$(jq .next_after "$T/body")
req "users: next page follows" GET "/v1/users?limit=2&after=$next" 200 '(.users | length) == 2 and .users[0].id == "u3"'
req "users: last page has next_after null" GET "/v1/users?limit=1000" 200 '(.users | length) == 62 and .next_after == null
  and (.users[-2].id == "alice") and .users[-1].id == "bob"'
req "users: limit=0" GET "/v1/users?limit=0" 400 '.error.code == "bad_parameter"'

# ---- items ----
req "PATCH only the title" PATCH /v1/items/i1 200 '.id == "i1" and .title == "New title" and (.attributes | length) > 0
  and .visible == true' "${J[@]}" -d '{"title": "New title"}'
attrs=$(jq -c .attributes "$T/body")
req "PATCH keeps the other fields" GET /v1/items/i1 200 ".title == \"New title\" and .attributes == $attrs"
req "PATCH visible + timestamp" PATCH /v1/items/i1 200 '.visible == false and .timestamp == 1234 and .title == "New title"' \
  "${J[@]}" -d '{"visible": false, "timestamp": 1234}'
req "PATCH unknown item" PATCH /v1/items/nope 404 '.error.code == "item_not_found"' "${J[@]}" -d '{"title": "x"}'
req "PATCH unknown field" PATCH /v1/items/i1 400 '.error.code == "bad_request"' "${J[@]}" -d '{"price": 3}'
req "PATCH wrong type" PATCH /v1/items/i1 400 '.error.code == "bad_request"' "${J[@]}" -d '{"visible": "yes"}'
req "PATCH bad timestamp" PATCH /v1/items/i1 400 '.error.code == "bad_request"' "${J[@]}" -d '{"timestamp": -1}'
req "PATCH a body that is not an object" PATCH /v1/items/i1 400 '.error.code == "bad_request"' "${J[@]}" -d '[1]'

req "batch insert" POST /v1/items/batch 200 '.written == 3 and .created == 2 and .replaced == 1' "${J[@]}" \
  -d '[{"id": "b1", "title": "B1", "attributes": ["new"]}, {"id": "b2"}, {"id": "i2", "title": "I2 again"}]'
req "batch items are readable" GET /v1/items/b1 200 '.title == "B1" and .attributes == ["new"] and .n_events == 0'
req "batch: a bad item names its index, nothing written" POST /v1/items/batch 400 \
  '.error.message | test("item 1")' "${J[@]}" -d '[{"id": "b3"}, {"id": 5}]'
req "batch: the good item before it was not written" GET /v1/items/b3 404 '.error.code == "item_not_found"'
req "batch: not an array" POST /v1/items/batch 400 '.error.code == "bad_request"' "${J[@]}" -d '{"id": "b4"}'
req "batch: empty" POST /v1/items/batch 400 '.error.code == "bad_request"' "${J[@]}" -d '[]'
req "batch is POST only (a literal path beats /v1/items/{id})" GET /v1/items/batch 405 ''

req "latest items: the batch's first" GET "/v1/items/latest?k=2" 200 '(.items | length) == 2
  and ([.items[].id] | sort) == ["b1", "b2"] and all(.items[]; .timestamp > 1600000000)'
req "latest: k=0" GET "/v1/items/latest?k=0" 400 '.error.code == "bad_parameter"'
req "add a category" PUT /v1/items/b2/categories/sale 200 '.attributes == ["sale"] and .changed == true'
req "add it again: no change" PUT /v1/items/b2/categories/sale 200 '.attributes == ["sale"] and .changed == false'
req "a category on an item the model knows" PUT /v1/items/i5/categories/sale 200 '.changed == true'
req "the category filter sees it at once" GET "/v1/popular?k=40&category=sale" 200 '[.items[].id] == ["i5"]'
req "remove it again" DELETE /v1/items/i5/categories/sale 200 '(.attributes | index("sale")) == null and .changed == true'
req "the filter no longer sees it" GET "/v1/popular?k=40&category=sale" 200 '.items == []'
req "remove the category" DELETE /v1/items/b2/categories/sale 200 '.attributes == [] and .changed == true'
req "category of an unknown item" PUT /v1/items/nope/categories/sale 404 '.error.code == "item_not_found"'
req "a bad category id" PUT /v1/items/b2/categories/a%01b 400 ''

# ---- feedback ----
post() { curl -s -X POST -H 'Content-Type: application/json' --data-binary "$2" "$U$1"; }
post /v1/events '[{"user": "fb", "item": "i3", "type": "click", "ts": 10}, {"user": "fb", "item": "i4", "type": "buy", "ts": 11},
  {"user": "fb", "item": "i3", "type": "buy", "value": 2, "ts": 12}]' >/dev/null
req "user feedback" GET /v1/users/fb/feedback 200 '[.feedback[] | [.item, .type, .ts]] == [["i3","click",10],["i4","buy",11],["i3","buy",12]]
  and .feedback[2].value == 2 and .feedback[0].user == "fb" and .next_after == null'
req "user feedback by type" GET "/v1/users/fb/feedback?type=buy" 200 '[.feedback[].item] == ["i4", "i3"]'
req "user feedback paging" GET "/v1/users/fb/feedback?limit=2" 200 '(.feedback | length) == 2 and (.next_after | type) == "number"'
next=$(jq .next_after "$T/body")
req "user feedback next page" GET "/v1/users/fb/feedback?limit=2&after=$next" 200 '[.feedback[].ts] == [12]'
req "item feedback by type" GET "/v1/items/i4/feedback?type=buy" 200 'all(.feedback[]; .item == "i4" and .type == "buy")
  and any(.feedback[]; .user == "fb")'
req "feedback of an unknown user" GET /v1/users/nobody/feedback 404 '.error.code == "user_not_found"'
req "feedback of an unknown item" GET /v1/items/nope/feedback 404 '.error.code == "item_not_found"'
req "feedback: bad limit" GET "/v1/users/fb/feedback?limit=x" 400 '.error.code == "bad_parameter"'
req "insert mode skips a stored (user, item, type)" POST "/v1/events?mode=insert" 200 '.accepted == 2 and .written == 1' \
  "${J[@]}" -d '[{"user": "fb", "item": "i3", "type": "click", "ts": 99}, {"user": "fb", "item": "i5", "type": "click", "ts": 13}]'
req "... the stored one kept its time" GET "/v1/users/fb/feedback?type=click" 200 '[.feedback[] | [.item, .ts]] == [["i3",10],["i5",13]]'
req "upsert mode updates value and time" POST "/v1/events?mode=upsert" 200 '.written == 1' "${J[@]}" \
  -d '[{"user": "fb", "item": "i3", "type": "click", "value": 5, "ts": 20}]'
req "... in place" GET "/v1/users/fb/feedback?type=click" 200 '[.feedback[] | [.item, .value, .ts]] == [["i3",5,20],["i5",1,13]]'
req "a bad mode" POST "/v1/events?mode=merge" 400 '.error.code == "bad_parameter"' "${J[@]}" -d '[{"user": "fb", "item": "i3"}]'
req "delete one type of feedback" DELETE "/v1/feedback/fb/i3?type=buy" 200 '.deleted == 1 and .type == "buy" and .user == "fb"'
req "delete all feedback of a pair" DELETE /v1/feedback/fb/i3 200 '.deleted == 1 and .type == null'
req "... gone" GET /v1/users/fb/feedback 200 '[.feedback[].item] == ["i4", "i5"]'
req "delete feedback of an unknown item" DELETE /v1/feedback/fb/nope 404 '.error.code == "item_not_found"'
req "delete feedback of an unknown user" DELETE /v1/feedback/nobody/i3 404 '.error.code == "user_not_found"'

# ---- recommendations ----
req "page 1" GET "/v1/users/u1/recommendations?k=3" 200 '(.items | length) == 3 and .offset == 0'
p1=$(jq -c '[.items[].id]' "$T/body")
req "pages 1+2" GET "/v1/users/u1/recommendations?k=6" 200 '(.items | length) == 6'
p12=$(jq -c '[.items[].id]' "$T/body")
req "offset=3 is the second page" GET "/v1/users/u1/recommendations?k=3&offset=3" 200 \
  "[.items[].id] == ($p12 | .[3:6]) and .offset == 3"
req "offset<0" GET "/v1/users/u1/recommendations?offset=-1" 400 '.error.code == "bad_parameter"'
req "write_back=other" GET "/v1/users/u1/recommendations?write_back=seen" 400 '.error.code == "bad_parameter"'
req "write_back=shown records shown events" GET "/v1/users/u2/recommendations?k=2&write_back=shown" 200 '.written_back == 2'
shown=$(jq -c '[.items[].id]' "$T/body")
req "... as feedback of type shown" GET "/v1/users/u2/feedback?type=shown" 200 "[.feedback[].item] == $shown"
req "similar users (jaccard: itemknn has no user vectors)" GET "/v1/users/u1/similar?k=3" 200 '.source == "history" and .method == "jaccard" and (.users | length) == 3
  and all(.users[]; .id != "u1" and .score > 0 and .score <= 1 and .common_items > 0)
  and ([.users[].score] == ([.users[].score] | sort | reverse))'
req "similar users: unknown user" GET /v1/users/nobody/similar 404 '.error.code == "user_not_found"'
[ "$p1" != "" ] || bad "page 1 ids"

# ---- openapi ----
req "openapi.json has the new routes" GET /openapi.json 200 '.paths | has("/v1/users") and has("/v1/users/{id}/similar")
  and has("/v1/users/{id}/feedback") and has("/v1/items/{id}/feedback") and has("/v1/feedback/{user}/{item}")
  and has("/v1/items/batch") and has("/v1/items/latest") and has("/v1/items/{id}/categories/{category}")
  and has("/healthz/live") and has("/healthz/ready") and (.["/v1/items/{id}"] | has("patch")) and (.["/v1/users/{id}"] | has("put"))'
stop_server

# ---- keys ----
if CREC_API_KEYS="k1" start_server "$T/serve2.log" --db "$T/s.db" --model "$T/knn.crecm"; then
  req "PUT user needs a key" PUT /v1/users/zed 401 '' "${J[@]}" -d '{}'
  req "PUT user with a key" PUT /v1/users/zed 201 '.id == "zed"' -H 'X-API-Key: k1' "${J[@]}" -d '{}'
  req "user list is private" GET /v1/users 401 ''
  req "feedback is private" GET /v1/users/fb/feedback 401 ''
  req "feedback is private (wrong key)" GET /v1/items/i4/feedback 403 '' -H 'X-API-Key: nope'
  req "feedback with a key" GET /v1/users/fb/feedback 200 '(.feedback | length) == 2' -H 'X-API-Key: k1'
  req "DELETE feedback needs a key" DELETE /v1/feedback/fb/i4 401 ''
  req "PATCH needs a key" PATCH /v1/items/i1 401 '' "${J[@]}" -d '{"title": "x"}'
  req "category needs a key" PUT /v1/items/i1/categories/x 401 ''
  req "batch needs a key" POST /v1/items/batch 401 '' "${J[@]}" -d '[{"id": "k"}]'
  req "recs stay open" GET "/v1/users/u1/recommendations?k=2" 200 '(.items | length) == 2'
  req "write_back needs a key" GET "/v1/users/u1/recommendations?k=2&write_back=shown" 401 '.error.code == "unauthorized"'
  req "write_back, wrong key" GET "/v1/users/u1/recommendations?k=2&write_back=shown" 403 '' -H 'X-API-Key: bad'
  req "write_back with a key" GET "/v1/users/u1/recommendations?k=2&write_back=shown" 200 '.written_back == 2' -H 'X-API-Key: k1'
  req "live and ready stay open" GET /healthz/ready 200 '.status == "ready"'
  stop_server
else bad "server with a key starts" "$(cat "$T/serve2.log")"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
