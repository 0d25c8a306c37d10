#!/usr/bin/env bash
# mcp.sh: crec as an MCP server, driven by real clients: `crec mcp` over stdio and `crec serve`'s POST /mcp,
# each by a small client on the Python standard library (mcp_client.py: lifecycle, every tool, protocol and
# tool errors, API keys), then by the official TypeScript client from npm (@modelcontextprotocol/sdk, installed
# into a cache outside the repo - $CREC_NPM_CACHE, default ~/.cache/crec-npm - when npm exists and the
# registry answers; skipped with a message otherwise): StdioClientTransport and StreamableHTTPClientTransport,
# listTools, callTool of every tool with its output validated against the published schema.
# Usage: mcp.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: mcp.sh /path/to/crec}")
HERE=$(cd "$(dirname "$0")" && pwd)
if ! command -v python3 >/dev/null; then echo "skipping: python3 is not installed"; exit 77; fi
T=$(mktemp -d /tmp/crec-mcp-XXXXXX)
PID=""
stop_server() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""; fi; }
trap 'stop_server; rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -20; }
# client OUTPUT-FILE: count its ok / FAIL lines
tally() {
  cat "$1"
  pass=$((pass + $(grep -c '^ok' "$1")))
  fail=$((fail + $(grep -c '^FAIL' "$1")))
}

# ---- help and usage errors ----
if "$CREC" mcp --help | grep -q "usage: crec mcp"; then ok "crec mcp --help"; else bad "crec mcp --help"; fi
if "$CREC" --help | grep -q "  mcp "; then ok "crec --help lists mcp"; else bad "crec --help lists mcp"; fi
out=$("$CREC" mcp --model x.crecm 2>&1 </dev/null); rc=$?
if [ $rc = 2 ] && grep -q -- "--db and --model are required" <<<"$out"; then ok "mcp without --db: usage"; else bad "mcp without --db ($rc)" "$out"; fi
out=$("$CREC" mcp --db x.db --model x.crecm --bogus 2>&1 </dev/null); rc=$?
if [ $rc = 2 ] && grep -q "unknown option '--bogus'" <<<"$out"; then ok "mcp unknown option"; else bad "mcp unknown option ($rc)" "$out"; fi

# ---- a store and a model ----
"$CREC" data synth --users 200 --items 80 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model itemknn --out "$T/knn.crecm" >/dev/null 2>&1
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1
out=$("$CREC" mcp --db "$T/none.db" --model "$T/knn.crecm" 2>&1 </dev/null); rc=$?
if [ $rc = 1 ] && [ -n "$out" ]; then ok "mcp on a missing store: error"; else bad "mcp on a missing store ($rc)" "$out"; fi
out=$(CREC_API_KEYS=k1 "$CREC" mcp --db "$T/s.db" --model "$T/knn.crecm" --key wrong 2>&1 </dev/null); rc=$?
if [ $rc = 2 ] && grep -q "not one of the server's API keys" <<<"$out"; then ok "mcp with a wrong --key"; else bad "mcp with a wrong --key ($rc)" "$out"; fi
# stdout carries protocol messages only, even with a message that is not JSON
out=$(printf 'hello\n{"jsonrpc":"2.0","id":1,"method":"ping"}\n' | "$CREC" mcp --db "$T/s.db" --model "$T/knn.crecm" 2>/dev/null)
if [ "$(wc -l <<<"$out")" = 2 ] && python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <<<"$out"; then
  ok "stdout holds only JSON-RPC lines"; else bad "stdout holds only JSON-RPC lines" "$out"; fi

# ---- the stdlib client: stdio, then HTTP ----
CREC_API_KEYS=k1 CREC_API_KEY=k1 python3 "$HERE/mcp_client.py" stdio "$CREC" mcp --db "$T/s.db" --model "$T/knn.crecm" \
  >"$T/stdio.out" 2>&1
tally "$T/stdio.out"
[ -s "$T/stdio.out" ] || bad "stdio client produced nothing"

CREC_API_KEYS=k1 "$CREC" serve --db "$T/s.db" --model "$T/knn.crecm" --port 0 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$T/serve.log" && break; sleep 0.1; done
PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/serve.log" | grep -o '[0-9]*$')
if [ -n "$PORT" ]; then
  python3 "$HERE/mcp_client.py" http "http://127.0.0.1:$PORT/mcp" k1 >"$T/http.out" 2>&1
  tally "$T/http.out"
  [ -s "$T/http.out" ] || bad "http client produced nothing"
  # the REST API is unchanged beside it
  if curl -s "http://127.0.0.1:$PORT/v1/popular?k=2" | grep -q '"items"'; then ok "REST beside /mcp"; else bad "REST beside /mcp"; fi
else
  bad "crec serve did not start" "$(cat "$T/serve.log")"
fi

# ---- the official TypeScript SDK ----
NPM_DIR=${CREC_NPM_CACHE:-$HOME/.cache/crec-npm}
SDK="$NPM_DIR/node_modules/@modelcontextprotocol/sdk"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "skip - TypeScript SDK client: node/npm are not installed"
else
  if [ ! -f "$SDK/package.json" ]; then
    mkdir -p "$NPM_DIR"
    timeout 120 npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error --fetch-retries=1 --fetch-timeout=20000 @modelcontextprotocol/sdk >"$T/npm.log" 2>&1 ||
      echo "skip - TypeScript SDK client: npm install @modelcontextprotocol/sdk failed (no registry?): $(tail -2 "$T/npm.log")"
  fi
  if [ -f "$SDK/package.json" ]; then
    echo "# @modelcontextprotocol/sdk $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$SDK/package.json")"
    timeout 120 node "$HERE/mcp_sdk.mjs" "$SDK" stdio "$CREC" "$T/s.db" "$T/knn.crecm" k1 >"$T/sdk1.out" 2>&1
    rc=$?; tally "$T/sdk1.out"; [ $rc = 0 ] || bad "sdk stdio client exit $rc" "$(tail -5 "$T/sdk1.out")"
    if [ -n "$PORT" ]; then
      timeout 120 node "$HERE/mcp_sdk.mjs" "$SDK" http "http://127.0.0.1:$PORT/mcp" k1 >"$T/sdk2.out" 2>&1
      rc=$?; tally "$T/sdk2.out"; [ $rc = 0 ] || bad "sdk http client exit $rc" "$(tail -5 "$T/sdk2.out")"
    fi
  fi
fi
stop_server

echo "mcp.sh: $pass passed, $fail failed"
[ $fail = 0 ]
