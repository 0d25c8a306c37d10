#!/usr/bin/env bash
# web_io.sh: the dashboard's import/export page in a real browser (Debian's chromium driven by playwright-core, as
# web.sh): items, users and events exported from server A's page, imported into server B (a fresh store) through
# B's page, exported again from both and compared; a file with bad lines gets its FILE:LINE errors. Both servers
# have an API key. Screenshot: BUILD/web-test/io/import.png. Skips (exit 77) without chromium, node or npm.
# Usage: web_io.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: web_io.sh /path/to/crec}")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/browser.sh
. "$HERE/lib/browser.sh"
T=$(mktemp -d /tmp/crec-web_io-XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
"$CREC" data synth --users 50 --items 30 --out "$T/s.crecds" >/dev/null 2>&1 &&
  "$CREC" train --data "$T/s.crecds" --model itemknn --out "$T/knn.crecm" >/dev/null 2>&1 &&
  "$CREC" db import --db "$T/a.db" --data "$T/s.crecds" >/dev/null 2>&1 || { echo "FAIL - data setup"; exit 1; }

# start NAME ARGS...: a server on a free port; sets PORT
start() {
  local name=$1; shift
  CREC_API_KEYS=k1 "$CREC" serve --port 0 "$@" 2>"$T/$name.log" &
  PIDS="$PIDS $!"
  PORT=""
  for _ in $(seq 1 200); do grep -q "listening on" "$T/$name.log" && break; sleep 0.1; done
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/$name.log" | grep -o '[0-9]*$')
  [ -n "$PORT" ] || { echo "FAIL - server $name did not start"; cat "$T/$name.log"; exit 1; }
}
start a --db "$T/a.db" --model "$T/knn.crecm"
PA=$PORT
# what the synthetic data lacks: a user with labels and no events, an item with awkward text hidden, a typed event
K=(-H 'X-API-Key: k1' -H 'Content-Type: application/json')
curl -sf -X PUT "${K[@]}" -d '{"labels": ["vip", "b|c", "x,y"]}' "http://127.0.0.1:$PA/v1/users/lab" >/dev/null &&
  curl -sf -X PATCH "${K[@]}" -d '{"text": "a, \"quoted\"\nline", "visible": false, "timestamp": 777}' \
    "http://127.0.0.1:$PA/v1/items/i3" >/dev/null &&
  curl -sf -X POST "${K[@]}" -d '[{"user": "u2", "item": "i4", "type": "buy", "value": 2.5, "ts": 1700000000}]' \
    "http://127.0.0.1:$PA/v1/events" >/dev/null || { echo "FAIL - setup writes on A"; exit 1; }
start b --db "$T/b.db" --model "$T/knn.crecm" --data "$T/s.crecds"
PB=$PORT
mkdir -p "$W/io"
out=$(cd "$W" && NODE_PATH="$W/node_modules" timeout 120 node "$HERE/web_io.js" "http://127.0.0.1:$PA/" \
      "http://127.0.0.1:$PB/" k1 "$W/io" "$T/chromium-profile" 2>&1)
rc=$?
echo "$out"
if [ $rc = 0 ] && grep -q '"ok":true' <<<"$out"; then
  echo "ok - import/export in chromium (screenshot: $W/io/import.png)"; echo "1 passed, 0 failed"; exit 0
fi
echo "FAIL - import/export in chromium (exit $rc; screenshot: $W/io/import.png)"; echo "0 passed, 1 failed"; exit 1
