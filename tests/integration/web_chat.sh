#!/usr/bin/env bash
# web_chat.sh: the dashboard's chat panel in a real browser: Debian's chromium driven by playwright-core (from npm
# into the build folder on first run, as web.sh) holds a conversation with crec serve --crs-model until a
# recommendation with reasons appears, then picks one (screenshot: BUILD/web-test/chat.png). Item titles carry
# markup ("<b>...</b>") that must show as text. Skips (exit 77) when chromium, node or npm is missing.
# Usage: web_chat.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: web_chat.sh /path/to/crec}")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/browser.sh
. "$HERE/lib/browser.sh"
T=$(mktemp -d /tmp/crec-webchat-XXXXXX)
PID=""
trap '[ -n "$PID" ] && { kill $PID; wait $PID; } 2>/dev/null; rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
# the plain CRS layout of crs.sh / conv.sh, with item titles holding markup
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
printf 'attr_id\tname\n0\tRock\n1\tJazz\n2\tFolk\n10\tFemale Vocals\n11\tPiano\n12\tGuitar\n13\tLive\n14\tAcoustic\n' > "$T/names.tsv"
"$CREC" data import --format crs --input "$T/plain" --out "$T/p.crecds" >/dev/null 2>&1 &&
  "$CREC" crs train --data "$T/p.crecds" --dim 16 --epochs 20 --out "$T/m.crecrs" >/dev/null 2>&1 &&
  "$CREC" train --data "$T/p.crecds" --model pop --split given --out "$T/pop.crecm" >/dev/null 2>&1 ||
  { echo "FAIL - data setup"; exit 1; }
"$CREC" serve --db "$T/s.db" --model "$T/pop.crecm" --data "$T/p.crecds" --crs-model "$T/m.crecrs" \
  --crs-names "$T/names.tsv" --port 0 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 200); do grep -q "listening on" "$T/serve.log" && break; sleep 0.1; done
PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/serve.log" | grep -o '[0-9]*$')
[ -n "$PORT" ] || { echo "FAIL - server did not start"; cat "$T/serve.log"; exit 1; }
# titles with markup: the page must show them as text
for i in 0 1 2 3 4 5 6 7 8 9; do
  curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' --data-binary "{\"title\":\"<b>Song $i</b>\"}" \
    "http://127.0.0.1:$PORT/v1/items/$i"
done
out=$(cd "$W" && NODE_PATH="$W/node_modules" timeout 90 node "$HERE/web_chat.js" "http://127.0.0.1:$PORT/" \
      "$W/chat.png" "$T/chromium-profile" 2>&1)
rc=$?
echo "$out"
if [ $rc = 0 ] && grep -q '"ok":true' <<<"$out"; then
  echo "ok - a conversation in chromium (screenshot: $W/chat.png)"; echo "1 passed, 0 failed"; exit 0
fi
echo "FAIL - chat in chromium (exit $rc; screenshot: $W/chat.png)"; echo "0 passed, 1 failed"; exit 1
