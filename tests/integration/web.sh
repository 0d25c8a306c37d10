#!/usr/bin/env bash
# web.sh: the dashboard in a real browser: Debian's chromium driven by playwright-core (installed from npm into
# the build folder on first run) looks up a user, sees recommendations with titles, sends an event with the
# form, sees the list change, opens similar items, and saves a screenshot (BUILD/web-test/dashboard.png).
# Skips (exit 77) when chromium, node or npm is missing (CREC_BROWSER_TESTS=1 scripts/bootstrap.sh adds them).
# Usage: web.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: web.sh /path/to/crec}")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/browser.sh
. "$HERE/lib/browser.sh"
T=$(mktemp -d /tmp/crec-web-XXXXXX)
PID=""
trap '[ -n "$PID" ] && { kill $PID; wait $PID; } 2>/dev/null; rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
"$CREC" data synth --users 200 --items 80 --out "$T/s.crecds" >/dev/null 2>&1 &&
  "$CREC" train --data "$T/s.crecds" --model itemknn --out "$T/knn.crecm" >/dev/null 2>&1 &&
  "$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1 || { echo "FAIL - data setup"; exit 1; }
CREC_TEST_SERIES_INTERVAL_MS=500 "$CREC" serve --db "$T/s.db" --model "$T/knn.crecm" --port 0 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$T/serve.log" && break; sleep 0.1; done
PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/serve.log" | grep -o '[0-9]*$')
[ -n "$PORT" ] || { echo "FAIL - server did not start"; cat "$T/serve.log"; exit 1; }
out=$(cd "$W" && NODE_PATH="$W/node_modules" timeout 90 node "$HERE/web_dashboard.js" "http://127.0.0.1:$PORT/" \
      "$W/dashboard.png" "$T/chromium-profile" 2>&1)
rc=$?
echo "$out"
if [ $rc = 0 ] && grep -q '"ok":true' <<<"$out"; then
  echo "ok - dashboard in chromium (screenshot: $W/dashboard.png)"; echo "1 passed, 0 failed"; exit 0
fi
echo "FAIL - dashboard in chromium (exit $rc; screenshot: $W/dashboard.png)"; echo "0 passed, 1 failed"; exit 1
