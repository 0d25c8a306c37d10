#!/usr/bin/env bash
# serve_hstu.sh: a time-aware model behind `crec serve` reads the user's newest events and their timestamps from
# the store at request time (issue 10). Two new users get the same six items through POST /v1/events, one a
# minute apart, one a month apart: an hstu with the time bias scores them differently, the same model without the
# time bias (the control) scores them identically, and a third user with the first one's times gets exactly the
# first one's list. Needs curl and jq. Usage: serve_hstu.sh /path/to/crec
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"

"$CREC" data synth --users 200 --items 50 --topics 5 --seed 4 --out "$T/s.crecds" >/dev/null 2>&1
for tb in 1 0; do
  "$CREC" train --data "$T/s.crecds" --model hstu --set dim=16 --set blocks=1 --set max_len=20 --set epochs=4 \
    --set patience=0 --set time_bias=$tb --out "$T/h$tb.crecm" >"$T/train$tb.log" 2>&1 ||
    { bad "train hstu time_bias=$tb" "$(tail -5 "$T/train$tb.log")"; exit 1; }
done
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1

# events: the same six items (popular ones) for ta (60 s apart), tb (30 days apart), tc (ta's times)
events() { # USER STEP
  local u=$1 step=$2 out="[" k=0
  for it in $(jq -r '.items[].id' "$T/pop.json"); do
    [ $k -gt 0 ] && out="$out,"
    out="$out{\"user\":\"$u\",\"item\":\"$it\",\"ts\":$((1700000000 + k * step))}"
    k=$((k + 1))
  done
  echo "$out]"
}
scores() { get "/v1/users/$1/recommendations?k=10" | jq -c '[.source, [.items[] | [.id, .score]]]'; }

for tb in 1 0; do
  if ! start_server "$T/serve$tb.log" --db "$T/s.db" --model "$T/h$tb.crecm"; then
    bad "server starts (time_bias=$tb)" "$(cat "$T/serve$tb.log")"; break; fi
  get "/v1/popular?k=6" >"$T/pop.json"
  for u in ta tb tc; do
    step=60; [ $u = tb ] && step=2592000
    code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      --data-binary "$(events $u$tb $step)" "$U/v1/events")
    [ "$code" = 200 ] || bad "POST events for $u$tb ($code)" "$(cat "$T/body")"
  done
  a=$(scores ta$tb); b=$(scores tb$tb); c=$(scores tc$tb)
  if [ "$(jq -r '.[0]' <<<"$a")" = model:history ] && [ "$(jq '.[1] | length' <<<"$a")" = 10 ]; then
    ok "time_bias=$tb: a new user's recommendations come from the model, scored from the history in the store"
  else bad "time_bias=$tb: source" "$a"; fi
  if [ "$a" = "$c" ]; then ok "time_bias=$tb: the same items at the same times give the same list"
  else bad "time_bias=$tb: ta and tc differ" "$a
$c"; fi
  if [ $tb = 1 ]; then
    if [ "$a" != "$b" ]; then ok "time_bias=1: a minute apart and a month apart score differently (store times are read)"
    else bad "time_bias=1: the gaps between events change nothing" "$a"; fi
  else
    if [ "$a" = "$b" ]; then ok "time_bias=0 (control): the gaps change nothing"
    else bad "time_bias=0: scores depend on times without the time bias" "$a
$b"; fi
  fi
  stop_server
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
