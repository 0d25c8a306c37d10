#!/usr/bin/env bash
# conv.sh: conversations over HTTP (crec serve --crs-model) with a real server on a free loopback port: a whole
# conversation (words matched to attribute names, a critique, questions answered until a recommendation with
# reasons, a pick), the server restarted mid-conversation and the conversation continued from the store, the
# transcript, and the errors: unknown conversation 404, finished 409, bad JSON / missing utterance 400, the
# routes off without --crs-model, a dataset without item attributes refused at start. LastFM* from
# CREC_SHARED_DATA when present (one more conversation on it). Needs curl and jq. Usage: conv.sh /path/to/crec
set -u
STOP_SIGNAL=TERM  # a clean stop: the tests restart the server on the same store
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"
say() { curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary "$(jq -n --arg u "$2" '{utterance: $u}')" "$U/v1/conversations/$1/turns"; }

# the plain CRS layout of crs.sh: 60 items in 3 genres (features 0-2) with 2 of 5 styles (10-14), 90 users
mkdir -p "$T/plain"
awk -v dir="$T/plain" 'BEGIN {
  print "item\tfeature" > dir "/item_feature.tsv"
  for (i = 0; i < 60; i++) { printf "%d\t%d\n%d\t%d\n%d\t%d\n", i, int(i / 20), i, 10 + i % 5, i, 10 + (i + 2) % 5 > dir "/item_feature.tsv" }
  print "split\tuser\titem" > dir "/interactions.tsv"
  s = 99
  for (u = 0; u < 90; u++) for (k = 0; k < 8; k++) {
    s = (s * 1103515245 + 12345) % 2147483648; i = (u % 3) * 20 + int(s / 2147483648 * 20)
    printf "%s\t%d\t%d\n", (k < 6 ? "train" : (k == 6 ? "valid" : "test")), u, i > dir "/interactions.tsv"
  }
}'
"$CREC" data import --format crs --input "$T/plain" --out "$T/p.crecds" >/dev/null 2>&1
"$CREC" crs train --data "$T/p.crecds" --dim 16 --epochs 20 --out "$T/m.crecrs" >/dev/null 2>&1
"$CREC" train --data "$T/p.crecds" --model pop --split given --out "$T/pop.crecm" >/dev/null 2>&1
printf 'attr_id\tname\n0\tRock\n1\tJazz\n2\tFolk\n10\tFemale Vocals\n11\tPiano\n12\tGuitar\n13\tLive\n14\tAcoustic\n' > "$T/names.tsv"
printf 'u1 i1\nu1 i2\nu2 i1\nu2 i3\n' > "$T/pairs.txt"
"$CREC" data import --format pairs --input "$T/pairs.txt" --out "$T/na.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/na.crecds" --model pop --out "$T/na.crecm" >/dev/null 2>&1
if [ -f "$T/m.crecrs" ] && [ -f "$T/pop.crecm" ]; then ok "data and models"; else bad "data and models"; fi

if "$CREC" serve --help | grep -q -- "--crs-model"; then ok "serve --help names --crs-model"; else bad "serve --help"; fi
out=$(timeout 20 "$CREC" serve --db "$T/na.db" --model "$T/na.crecm" --data "$T/na.crecds" --crs-model "$T/m.crecrs" --port 0 2>&1); rc=$?
if [ $rc != 0 ] && grep -q "item attributes" <<<"$out"; then ok "a dataset without attributes is refused"; else bad "no attributes refused ($rc)" "$out"; fi

# ---- without --crs-model the routes answer 404 ----
start_server "$T/log0" --db "$T/s0.db" --model "$T/pop.crecm" --data "$T/p.crecds" || bad "server without --crs-model" "$(cat "$T/log0")"
req "conversations off without --crs-model" POST /v1/conversations 404 '.error.message | test("crs-model")'
stop_server

# ---- a whole conversation ----
ARGS=(--db "$T/s.db" --model "$T/pop.crecm" --data "$T/p.crecds" --crs-model "$T/m.crecrs" --crs-names "$T/names.tsv")
start_server "$T/log1" "${ARGS[@]}" || bad "server start" "$(cat "$T/log1")"
req "start" POST /v1/conversations 201 \
  '(.id | type) == "string" and .reply.kind == "question" and (.reply.suggestions | length) > 0 and (.reply.text | test("What are you looking for"))'
CID=$(jq -r .id "$T/body")
req "start with a bad body is 400" POST /v1/conversations 400 '.error.code == "bad_json"' --data-binary '{"user":'
req "start with a wrong user type is 400" POST /v1/conversations 400 '.error.code == "bad_parameter"' --data-binary '{"user":5}'
code=$(say "$CID" "hello there")
if [ "$code" = 200 ] && jq -e '.reply.kind == "question" and (.reply.text | test("did not recognise"))' "$T/body" >/dev/null; then
  ok "an utterance naming nothing is asked again"; else bad "naming nothing ($code)" "$(cat "$T/body")"; fi
code=$(say "$CID" "something with ROCKS, not jazz")
if [ "$code" = 200 ] && jq -e '[.understood[] | "\(.attribute.name)=\(.liked)"] | sort == ["Jazz=false", "Rock=true"]' "$T/body" >/dev/null \
   && jq -e '.reply.text | test("Noted: 20 items match")' "$T/body" >/dev/null; then
  ok "words matched to attributes (case, plurals, 'not X')"; else bad "words to attributes ($code)" "$(cat "$T/body")"; fi
KIND=$(jq -r .reply.kind "$T/body")
cp "$T/body" "$T/last"

# ---- restart mid-conversation: the store holds it ----
stop_server
start_server "$T/log2" "${ARGS[@]}" || bad "server restart" "$(cat "$T/log2")"
req "transcript after a restart" GET "/v1/conversations/$CID" 200 \
  '.done == false and (.transcript | length) == 5 and .transcript[3].from == "person" and .transcript[4].from == "system"'
cp "$T/last" "$T/body"
n=0
while [ "$KIND" = question ] && [ $n -lt 12 ]; do
  code=$(say "$CID" "yes"); KIND=$(jq -r .reply.kind "$T/body"); n=$((n + 1))
done
if [ "$KIND" = recommendation ] && jq -e '(.reply.items | length) > 0 and (.reply.items[0] | has("id") and has("title"))
      and ([.reply.items[].reasons[].name] | index("Rock") != null)' "$T/body" >/dev/null; then
  ok "a recommendation with reasons after $n more answers (continued after the restart)"
else bad "a recommendation with reasons (kind $KIND)" "$(cat "$T/body")"; fi
code=$(say "$CID" "no, not Acoustic")
if [ "$code" = 200 ] && jq -e '(.understood | map(select(.attribute.name == "Acoustic" and .liked == false)) | length) == 1
      and (.reply.text | test("none of those"))' "$T/body" >/dev/null; then
  ok "a critique of a recommendation ('not X')"; else bad "critique ($code)" "$(cat "$T/body")"; fi
KIND=$(jq -r .reply.kind "$T/body")
n=0
while [ "$KIND" = question ] && [ $n -lt 12 ]; do
  code=$(say "$CID" "no"); KIND=$(jq -r .reply.kind "$T/body"); n=$((n + 1))
done
if [ "$KIND" = recommendation ]; then
  code=$(say "$CID" "1")
  if [ "$code" = 200 ] && jq -e '.done == true and .reply.kind == "done" and .reply.success == true and (.reply.item.id | type) == "string"
        and (.reply.text | test("Great - "))' "$T/body" >/dev/null; then ok "a pick by number ends the conversation"
  else bad "pick ($code)" "$(cat "$T/body")"; fi
elif [ "$KIND" = done ]; then ok "the conversation ended (out of candidates or turns)"
else bad "after the critique (kind $KIND)" "$(cat "$T/body")"; fi
code=$(say "$CID" "yes")
if [ "$code" = 409 ] && jq -e '.error.code == "conversation_finished"' "$T/body" >/dev/null; then ok "a finished conversation is 409"
else bad "finished 409 ($code)" "$(cat "$T/body")"; fi
req "transcript of a finished conversation" GET "/v1/conversations/$CID" 200 '.done == true and (.transcript | length) > 6'

# ---- errors ----
req "unknown conversation 404" GET /v1/conversations/999999 404 '.error.code == "conversation_not_found"'
req "non-numeric conversation 404" GET /v1/conversations/abc 404 '.error.code == "conversation_not_found"'
req "turn on an unknown conversation 404" POST /v1/conversations/999999/turns 404 '.error.code == "conversation_not_found"' --data-binary '{"utterance":"yes"}'
req "turn with bad JSON 400" POST "/v1/conversations/$CID/turns" 400 '.error.code == "bad_json"' --data-binary '{"utterance":'
req "turn without an utterance 400" POST "/v1/conversations/$CID/turns" 400 '.error.code == "bad_parameter"' --data-binary '{"text":"yes"}'
req "turn with an empty body 400" POST "/v1/conversations/$CID/turns" 400 '.error | has("code")'
req "a known user and an opening utterance" POST /v1/conversations 201 \
  '.known_user == true and .user == "3" and (.understood | length) == 1 and (.reply.kind == "question" or .reply.kind == "recommendation")' \
  --data-binary '{"user":"3","utterance":"folk please"}'
CID2=$(jq -r .id "$T/body"); KIND=$(jq -r .reply.kind "$T/body"); n=0
while [ "$KIND" = question ] && [ $n -lt 12 ]; do code=$(say "$CID2" "yes"); KIND=$(jq -r .reply.kind "$T/body"); n=$((n + 1)); done
code=$(say "$CID2" "yes")
if [ "$code" = 200 ] && jq -e '.reply.kind == "recommendation" and (.reply.text | test("Which one"))' "$T/body" >/dev/null; then
  ok "'yes' to a list asks which one"; else bad "yes to a list ($code)" "$(cat "$T/body")"; fi
code=$(say "$CID2" "2")
if [ "$code" = 200 ] && jq -e '.done == true and .reply.kind == "done" and .reply.success == true and (.reply.item.id | type) == "string"
      and (.reply.text | test("Great - .*which has Folk"))' "$T/body" >/dev/null; then ok "a pick by number ends the conversation"
else bad "pick ($code)" "$(cat "$T/body")"; fi
# a critique by example: "more like 1" takes that item's attributes
req "a third conversation" POST /v1/conversations 201 '.reply.kind == "recommendation"' --data-binary '{"utterance":"rock and female vocals"}'
CID3=$(jq -r .id "$T/body"); FIRST=$(jq -r '.reply.items[0].id' "$T/body")
code=$(say "$CID3" "hmm, more like 1")
if [ "$code" = 200 ] && jq -e --arg f "$FIRST" '(.understood | length) >= 1 and all(.understood[]; .liked)
      and (.reply.text | test("More like ")) and ([.reply.items[]?.id] | index($f) == null)' "$T/body" >/dev/null; then
  ok "'more like 1' accepts that item's attributes"; else bad "more like ($code)" "$(cat "$T/body")"; fi
req "openapi lists the conversation routes" GET /openapi.json 200 \
  '(.paths | has("/v1/conversations") and has("/v1/conversations/{id}/turns") and has("/v1/conversations/{id}"))'
stop_server

# ---- LastFM* (shared data): one conversation on the real attributes ----
D="${CREC_SHARED_DATA:-}/lastfm-star-crs"
if [ -n "${CREC_SHARED_DATA:-}" ] && [ -f "$D/item_feature.tsv" ]; then
  "$CREC" data import --format crs --coarse --input "$D" --out "$T/lf.crecds" >/dev/null 2>&1
  "$CREC" crs train --data "$T/lf.crecds" --dim 8 --epochs 2 --out "$T/lf.crecrs" >/dev/null 2>&1
  "$CREC" train --data "$T/lf.crecds" --model pop --split given --out "$T/lf.crecm" >/dev/null 2>&1
  if start_server "$T/log3" --db "$T/lf.db" --model "$T/lf.crecm" --data "$T/lf.crecds" --crs-model "$T/lf.crecrs"; then
    A=$(curl -s -X POST "$U/v1/conversations" | tee "$T/body" | jq -r '.reply.suggestions[0].name')
    CID=$(jq -r .id "$T/body")
    code=$(say "$CID" "I like $A"); KIND=$(jq -r .reply.kind "$T/body"); n=0
    while [ "$KIND" = question ] && [ $n -lt 14 ]; do code=$(say "$CID" "no"); KIND=$(jq -r .reply.kind "$T/body"); n=$((n + 1)); done
    if [ "$KIND" = recommendation ] || [ "$KIND" = done ]; then ok "LastFM*: a conversation reaches a $KIND"
    else bad "LastFM* conversation (kind $KIND)" "$(cat "$T/body")"; fi
    stop_server
  else bad "LastFM* server" "$(cat "$T/log3")"; fi
else
  echo "skipping the LastFM* conversation: CREC_SHARED_DATA/lastfm-star-crs not found"
fi
# every server stopped cleanly: no sanitizer report (leaks, errors) in its log
if cat "$T"/log* | grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error"; then
  bad "server logs hold a sanitizer report" "$(grep -hE -A12 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$T"/log* | head -40)"
else ok "no sanitizer reports in the server logs"; fi
echo "conv.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
