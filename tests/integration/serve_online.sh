#!/usr/bin/env bash
# serve_online.sh: `crec serve --online` over real HTTP: acknowledged events teach the served onlinemf model
# within a bounded delay - a brand-new item clicked by several users starts to be recommended to a user like
# them, a brand-new user gets personal (source "model") recommendations after a few events - the learner's
# metrics are at /metrics and /v1/stats, the learned state survives a kill -9 after a checkpoint, and --online
# with a model that cannot learn is refused (exit 2). Needs curl and jq. Usage: serve_online.sh /path/to/crec
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"
# wait_for PATH JQ-FILTER: poll (every 0.1 s, at most 3 s) until the answer satisfies the filter; 0 when it did
wait_for() {
  for _ in $(seq 1 30); do
    if [ "$(get "$1" | jq -r "$2" 2>/dev/null)" = true ]; then return 0; fi
    sleep 0.1
  done
  return 1
}

if "$CREC" serve --help 2>&1 | grep -q -- "--online-sync"; then ok "serve --help lists --online"; else bad "serve --help"; fi

# ---- data, models, store ----
"$CREC" data synth --users 150 --items 60 --topics 6 --seed 3 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model onlinemf --set factors=16 --set epochs=5 --set neg=16 \
  --out "$T/omf.crecm" >"$T/train.log" 2>&1 || { bad "train onlinemf" "$(cat "$T/train.log")"; exit 1; }
"$CREC" train --data "$T/s.crecds" --model pop --out "$T/pop.crecm" >/dev/null 2>&1
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1

# ---- a model that cannot learn is refused ----
out=$(timeout 20 "$CREC" serve --db "$T/s.db" --model "$T/pop.crecm" --port 0 --online 2>&1); rc=$?
if [ $rc = 2 ] && grep -q "model 'pop'.*cannot learn while serving" <<<"$out" && grep -q "onlinemf" <<<"$out"; then
  ok "--online with a model without the update hook: exit 2, names the models that can"
else bad "--online with pop is refused ($rc)" "$out"; fi

if ! start_server "$T/serve.log" --db "$T/s.db" --model "$T/omf.crecm" --online --online-sync 1; then
  bad "server starts" "$(cat "$T/serve.log")"; echo "$pass passed, $fail failed"; exit 1; fi
ok "server --online starts on port $PORT"
req "stats show the learner" GET /v1/stats 200 '.online.updates_applied == 0 and .online.items == 60 and .online.sync_interval_s == 1'

# ---- a brand-new item clicked by several users like the target ----
# the target's history; eight new users share it and each click the new item (twice, as two visits)
target=$(get /v1/users/u1 | jq -r '.history[].item' | head -8)
hist_json=$(jq -R . <<<"$target" | jq -s .)
req "create the new item" POST /v1/items 201 '.id == "fresh"' -H 'Content-Type: application/json' \
  -d '{"id": "fresh", "title": "A brand-new item", "attributes": []}'
req "before learning it is not in the model" GET /v1/items/fresh 200 '.in_model == false'
evs=$(jq -c --argjson h "$hist_json" -n '[range(0;8) as $u | ($h[] , "fresh", "fresh") | {user: ("fan\($u)"), item: .}]')
req "post the fans' events" POST /v1/events 200 '.accepted > 0' -H 'Content-Type: application/json' -d "$evs"
if wait_for /v1/items/fresh '.in_model == true'; then ok "the new item is in the model within 3 s"; else bad "the new item is learned"; fi
# more rounds of the same behaviour (a stream keeps teaching)
for round in 1 2 3 4 5; do post /v1/events "$evs" >/dev/null; done
if wait_for "/v1/users/u1/recommendations?k=10" '[.items[].id] | index("fresh") != null'; then
  ok "the new item is recommended to a user like its fans"
else bad "the new item reaches u1's top 10" "$(get "/v1/users/u1/recommendations?k=10")"; fi

# ---- a brand-new user gets personal recommendations after a few events ----
req "a brand-new user: popular fallback" GET "/v1/users/newcomer/recommendations?k=5" 200 '.source == "popular" and .known_user == false'
first=$(head -3 <<<"$target" | jq -R . | jq -s -c '[.[] | {user: "newcomer", item: .}]')
post /v1/events "$first" >/dev/null
if wait_for "/v1/users/newcomer/recommendations?k=5" '.known_user == true and .source == "model" and (.items | length) == 5'; then
  ok "after 3 events the new user is known to the model (source model, not popular)"
else bad "the new user is learned" "$(get "/v1/users/newcomer/recommendations?k=5")"; fi

# ---- metrics ----
get /metrics >"$T/metrics"
applied=$(awk '$1 == "crec_online_updates_total" {print $2}' "$T/metrics")
lag=$(awk '$1 == "crec_online_update_lag_max_seconds" {print $2}' "$T/metrics")
if [ "${applied:-0}" -ge 100 ] && awk -v l="${lag:-9}" 'BEGIN {exit !(l < 1.0)}' && grep -q "^crec_online_items 61$" "$T/metrics" &&
   grep -q "^crec_online_table_rows " "$T/metrics" && grep -q "^crec_online_evictions_total 0$" "$T/metrics"; then
  ok "metrics: $applied updates applied, max lag ${lag}s (< 1 s), 61 items, table rows, evictions"
else bad "metrics" "$(grep crec_online "$T/metrics")"; fi

# ---- kill -9 after a checkpoint; the learned state is back ----
if wait_for /v1/stats '.online.syncs >= 1 and .online.queued == 0'; then sleep 1.2; fi
syncs=$(get /v1/stats | jq .online.syncs)
stop_server
if [ -f "$T/omf.crecm.online" ] && [ -f "$T/omf.crecm.online.ids" ]; then ok "checkpoint files next to the model ($syncs syncs)"
else bad "checkpoint files" "$(ls "$T")"; fi
if ! start_server "$T/serve2.log" --db "$T/s.db" --model "$T/omf.crecm" --online --online-sync 1; then
  bad "restart after kill -9" "$(cat "$T/serve2.log")"; echo "$pass passed, $fail failed"; exit 1; fi
if grep -q "learned state loaded from" "$T/serve2.log"; then ok "restart loads the learned state"; else bad "restart log" "$(cat "$T/serve2.log")"; fi
req "after kill -9 the new item is still known" GET /v1/items/fresh 200 '.in_model == true'
req "... and still recommended to u1" GET "/v1/users/u1/recommendations?k=10" 200 '[.items[].id] | index("fresh") != null'
req "... and the new user still known" GET "/v1/users/newcomer/recommendations?k=5" 200 '.known_user == true and .source == "model"'
# learning goes on after the restart: another new item
req "create a second new item" POST /v1/items 201 '.id == "fresh2"' -H 'Content-Type: application/json' -d '{"id": "fresh2"}'
post /v1/events '[{"user": "newcomer", "item": "fresh2"}]' >/dev/null
if wait_for /v1/items/fresh2 '.in_model == true'; then ok "learning continues after the restart"; else bad "fresh2 learned"; fi
req "a reload keeps what was learned" POST /v1/admin/reload 200 '.model == "onlinemf" and .model_version == 2 and .n_items == 62'
req "... the new items are still in the model" GET /v1/items/fresh2 200 '.in_model == true'
# a plain stop writes a last checkpoint
kill -TERM "$PID"; wait "$PID" 2>/dev/null; PID=""
if start_server "$T/serve3.log" --db "$T/s.db" --model "$T/omf.crecm" --online; then
  req "a clean stop checkpoints what was learned" GET /v1/items/fresh2 200 '.in_model == true'
else bad "third start" "$(cat "$T/serve3.log")"; fi
stop_server
# a checkpoint of another model is refused with a clear message
"$CREC" data synth --users 150 --items 70 --topics 6 --seed 9 --out "$T/o.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/o.crecds" --model onlinemf --set factors=16 --out "$T/o.crecm" >/dev/null 2>&1
cp "$T/omf.crecm.online" "$T/o.crecm.online"; cp "$T/omf.crecm.online.ids" "$T/o.crecm.online.ids"
out=$(timeout 20 "$CREC" serve --db "$T/o.db" --data "$T/o.crecds" --model "$T/o.crecm" --port 0 --online 2>&1); rc=$?
if [ $rc != 0 ] && grep -q "does not fit the model" <<<"$out"; then ok "a checkpoint of another model is refused"
else bad "foreign checkpoint ($rc)" "$out"; fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
