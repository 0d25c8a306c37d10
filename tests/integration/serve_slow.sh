#!/usr/bin/env bash
# serve_slow.sh: slow clients against a real `crec serve` (issue 15, defect 3): a request whose headers, or whose
# body, dribble in one byte a second is closed once --request-timeout has passed (libmicrohttpd's idle timeout
# alone is reset by every byte, so such a client held its connection for ever); a client that is only slow
# between requests of a keep-alive connection, and normal requests meanwhile, are unaffected; the metric counts
# the closed connections. Also: the recommendation answers written as text (recs.c) are the very JSON the
# object path gives (write_back=shown takes the object path: same items, same scores). Usage: serve_slow.sh CREC
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"
command -v python3 >/dev/null || { echo "skipping: python3 is not installed"; exit 77; }

"$CREC" data synth --users 60 --items 40 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model itemknn --out "$T/knn.crecm" >/dev/null 2>&1
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1 || { echo "db import failed"; exit 1; }

BUDGET=2
export CREC_TEST_SERIES_INTERVAL_MS=300 # GET /v1/metrics/series samples every 0.3 s here (5 s by default)
if ! start_server "$T/serve.log" --db "$T/s.db" --model "$T/knn.crecm" --request-timeout $BUDGET; then
  bad "server starts" "$(cat "$T/serve.log")"; echo "$pass passed, $fail failed"; exit 1; fi
ok "server starts on port $PORT with --request-timeout $BUDGET"

# dribble PORT MODE: sends a request one byte a second; prints "closed after S s, N bytes sent" or "open after S s".
# MODE headers: the request line and headers dribble; body: the headers at once, then the body dribbles; idle:
# one whole request, read its answer, then wait 1.5 s (under the budget) and send a second whole request.
cat >"$T/dribble.py" <<'EOF'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
limit = 12.0
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(0.05)
t0 = time.time()
def closed():
    try:
        d = s.recv(65536)
        return d == b"", d
    except socket.timeout:
        return False, b""
    except OSError:
        return True, b""
if mode == "idle":
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    got = []
    for k in range(2):
        s.sendall(req)
        s.settimeout(5)
        got.append(s.recv(65536))
        s.settimeout(0.05)
        if k == 0:
            time.sleep(1.5)
    print("answers", sum(1 for g in got if g.startswith(b"HTTP/1.1 200")))
    sys.exit(0)
if mode == "headers":
    data = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 40 + b"\r\n\r\n"
else:
    body = b'{"history": ["i1", "i2"], "k": 3}' + b" " * 40
    s.sendall(b"POST /v1/sessions/recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    data = body
sent = 0
while time.time() - t0 < limit:
    c, _ = closed()
    if c:
        print("closed after %.1f s, %d bytes sent" % (time.time() - t0, sent))
        sys.exit(0)
    if sent < len(data):
        try:
            s.send(data[sent:sent + 1])
        except OSError:
            print("closed after %.1f s, %d bytes sent" % (time.time() - t0, sent))
            sys.exit(0)
        sent += 1
    time.sleep(1.0)
print("open after %.1f s, %d bytes sent" % (time.time() - t0, sent))
EOF

python3 "$T/dribble.py" "$PORT" headers >"$T/h.txt" 2>&1 &
H=$!
python3 "$T/dribble.py" "$PORT" body >"$T/b.txt" 2>&1 &
B=$!
# meanwhile the server answers everyone else, and a keep-alive client slow only between requests is served
out=$(python3 "$T/dribble.py" "$PORT" idle 2>&1)
[ "$out" = "answers 2" ] && ok "keep-alive client idle 1.5 s between two requests: both answered" \
  || bad "keep-alive client idle 1.5 s between two requests" "$out"
req "others are answered while two clients dribble" GET "/v1/users/u1/recommendations?k=3" 200 '(.items | length) > 0'
wait $H $B
check_closed() {
  local what=$1 f=$2
  if grep -q '^closed after' "$f"; then
    s=$(awk '{print $3}' "$f")
    if awk -v s="$s" -v b=$BUDGET 'BEGIN {exit !(s >= b - 0.5 && s <= b + 3)}'; then
      ok "$what dribbling 1 byte/s: closed by the budget ($(cat "$f"))"
    else
      bad "$what dribbling 1 byte/s: closed, but not at the budget of $BUDGET s" "$(cat "$f")"
    fi
  else
    bad "$what dribbling 1 byte/s is closed within the budget" "$(cat "$f")"
  fi
}
check_closed "headers" "$T/h.txt"
check_closed "a body" "$T/b.txt"
m=$(get /metrics | awk '$1 == "crec_requests_timed_out_total" {print $2}')
[ "$m" = 2 ] && ok "crec_requests_timed_out_total counts the 2 closed connections" \
  || bad "crec_requests_timed_out_total is 2" "got '$m'"
req "still serving after the cuts" GET /healthz 200 '.status == "ok"'

# the answers written as text are the JSON the object path gives
for u in u1 u2 u7 u30 nobody; do
  a=$(get "/v1/users/$u/recommendations?k=5" | jq -cS '.items')
  b=$(get "/v1/users/$u/recommendations?k=5&write_back=shown" | jq -cS '.items')
  if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "user $u: text answer = object answer ($(jq length <<<"$a") items)"
  else bad "user $u: text answer = object answer" "$a
$b"; fi
done
req "the text answer is valid JSON with every field" GET "/v1/users/u1/recommendations?k=3&offset=1" 200 \
  '.model == "itemknn" and .source == "model" and .offset == 1 and .user == "u1" and .known_user == true
   and (.history_length > 0) and (.items | length) == 3 and (.items[0] | keys) == ["attributes","id","score","title","visible"]'
req "similar items as text" GET "/v1/items/i1/similar?k=3" 200 '.item == "i1" and (.items | length) <= 3'
req "popular as text" GET "/v1/popular?k=4" 200 '.source == "popular" and (.items | length) == 4 and .fallback_items == 4'

# item search (GET /v1/search/items): id prefix or title words, paged by row id
req "search items: id prefix, a page of 3" GET "/v1/search/items?q=i1&limit=3" 200 \
  '.q == "i1" and [.items[].id] == ["i1", "i10", "i11"] and (.next_after | type) == "number"
   and (.items[0] | has("title") and has("attributes") and has("visible") and (has("score") | not))'
next=$(jq .next_after "$T/body")
req "search items: the next page follows" GET "/v1/search/items?q=i1&limit=3&after=$next" 200 \
  '[.items[].id] == ["i12", "i13", "i14"]'
word=$(get /v1/items/i5 | jq -r '.title | split(" ")[0] | ascii_upcase')
req "search items: a title word, any case ($word)" GET "/v1/search/items?q=$word&limit=1000" 200 \
  '([.items[].id] | index("i5")) != null and .next_after == null'
req "search items: nothing found" GET "/v1/search/items?q=zzzz-none" 200 '.items == [] and .next_after == null'
req "search items: limit 0" GET "/v1/search/items?limit=0" 400 '.error.code == "bad_parameter"'
req "search items: q too long" GET "/v1/search/items?q=$(printf 'a%.0s' $(seq 1 300))" 400 '.error.code == "bad_parameter"'

# the activity series (GET /v1/metrics/series): the requests above, per interval
sleep 0.4
req "metrics series: intervals with every field" GET /v1/metrics/series 200 \
  '.interval_s == 0.3 and (.samples | length) >= 2 and ([.samples[].requests] | add) >= 10
   and (.samples | all(has("t_ms") and has("dt") and has("requests_per_s") and has("recommendations_per_s")
        and has("errors_per_s") and has("events_per_s") and has("p50_ms") and has("p99_ms")))
   and ([.samples[].recommendations_per_s] | max) > 0 and ([.samples[].p99_ms | numbers] | length) > 0
   and ([.samples[] | select(.p50_ms != null) | .p50_ms <= .p99_ms] | all)'
last_ms=$(jq '.samples[-1].t_ms' "$T/body")
req "metrics series: since= leaves out older intervals" GET "/v1/metrics/series?since=$((last_ms / 1000)).$(printf %03d $((last_ms % 1000)))" \
  200 "(.samples | length) <= 2 and (.samples | all(.t_ms > $last_ms))"
req "metrics series: a bad since" GET "/v1/metrics/series?since=yesterday" 400 '.error.code == "bad_parameter"'
req "metrics series is GET only" POST /v1/metrics/series 405 '.error.code == "method_not_allowed"'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
