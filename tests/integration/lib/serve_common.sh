# serve_common.sh: what every test of `crec serve` over real HTTP needs, sourced (not run: ctest runs only
# tests/integration/*.sh) by serve.sh, serve_api.sh, serve_online.sh and conv.sh as
#   . "$(dirname "$0")/lib/serve_common.sh" "$@"
# It takes the crec binary from $1 (CREC), skips (exit 77) without curl or jq, makes the scratch folder T (removed
# at exit with the server and any background job), and defines ok / bad (counting into pass / fail),
# start_server / stop_server (PID, PORT, U; STOP_SIGNAL, default KILL), req, get, post and kill9_ingest (the
# durability check, shared by serve.sh and pg_store.sh).
NAME=$(basename "$0" .sh)
CREC=$(realpath "${1:?usage: $NAME.sh /path/to/crec}")
for tool in curl jq; do
  if ! command -v $tool >/dev/null; then echo "skipping: $tool is not installed (scripts/bootstrap.sh adds it)"; exit 77; fi
done
T=$(mktemp -d "/tmp/crec-$NAME-XXXXXX")
PID=""
STOP_SIGNAL=${STOP_SIGNAL:-KILL}
stop_server() { if [ -n "$PID" ]; then kill -s "$STOP_SIGNAL" "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""; fi; }
trap 'stop_server; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -20; }

# start_server LOG [args...]: crec serve on port 0 (the kernel picks a free one); sets PID, PORT, U; waits up to
# 20 s for "listening on" (a loaded machine under ASan is slow to load a model).
start_server() {
  local log=$1; shift
  "$CREC" serve --port 0 --threads 2 "$@" 2>"$log" &
  PID=$!
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$log"; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$')
  U="http://127.0.0.1:$PORT"
  [ -n "$PORT" ]
}

# req NAME METHOD PATH WANT-STATUS JQ-FILTER [curl args...]: JQ-FILTER must print true ('' = no check); the body
# lands in $T/body; returns 1 on a failed check.
req() {
  local name=$1 method=$2 path=$3 want=$4 filter=$5; shift 5
  local code
  code=$(curl -s -o "$T/body" -w '%{http_code}' -X "$method" "$@" "$U$path")
  if [ "$code" != "$want" ]; then bad "$name (HTTP $code, want $want)" "$(head -c 600 "$T/body")"; return 1; fi
  if [ -n "$filter" ] && [ "$(jq -r "$filter" "$T/body" 2>&1)" != "true" ]; then
    bad "$name (jq: $filter)" "$(head -c 800 "$T/body")"; return 1
  fi
  ok "$name"
}
get() { curl -s "$U$1"; }
post() { curl -s -X POST -H 'Content-Type: application/json' --data-binary "$2" "$U$1"; }

# kill9_ingest DB MODEL WHERE: the durability check - two writers post one event per request, the server is
# killed with SIGKILL once they are well under way, restarted on the same store, and every acknowledged event
# must be there (at most one unacknowledged event per writer may have committed just before the kill). WHERE
# names the store in the message ("the store", "PostgreSQL").
kill9_ingest() {
  local db=$1 model=$2 where=$3
  if ! start_server "$T/kill9-a.log" --db "$db" --model "$model"; then
    bad "server for the crash test starts" "$(cat "$T/kill9-a.log")"; return; fi
  for w in a b; do
    ( for i in $(seq 1 100000); do
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --max-time 5 \
               -d "[{\"user\":\"crash-$w\",\"item\":\"i$((i % 80 + 1))\",\"value\":$i}]" "$U/v1/events")
        [ "$code" = 200 ] && echo "$i" || break
      done ) >"$T/acked-$w" 2>/dev/null &
  done
  # kill once the writers are well under way (a loaded machine acknowledges fewer events per second: wait for
  # them, up to 60 s, rather than a fixed time)
  for _ in $(seq 1 600); do
    [ "$(cat "$T"/acked-a "$T"/acked-b 2>/dev/null | wc -l)" -gt 40 ] && break
    sleep 0.1
  done
  kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=""
  wait
  local acked missing=0 stored=0
  acked=$(cat "$T"/acked-a "$T"/acked-b | wc -l)
  if ! start_server "$T/kill9-b.log" --db "$db" --model "$model"; then
    bad "restart after kill -9" "$(cat "$T/kill9-b.log")"; return; fi
  for w in a b; do
    get "/v1/users/crash-$w?limit=1000" | jq -r '.history[].value' | sed 's/\.0$//' | sort -n >"$T/stored-$w"
    stored=$((stored + $(wc -l <"$T/stored-$w")))
    missing=$((missing + $(sort -n "$T/acked-$w" | comm -23 - "$T/stored-$w" | wc -l)))
  done
  if [ "$acked" -gt 20 ] && [ "$missing" = 0 ] && [ "$stored" -ge "$acked" ] && [ "$stored" -le $((acked + 2)) ]; then
    ok "kill -9 during ingest: all $acked acknowledged events are in $where ($stored stored)"
  else bad "kill -9 durability: $acked acknowledged, $stored stored, $missing missing"; fi
  stop_server
}
