#!/usr/bin/env bash
# pg_store.sh: the PostgreSQL store (--db postgresql://...) against a throw-away cluster (initdb + pg_ctl on a
# free loopback port, socket in a temp dir, stopped on exit): the store unit tests (test_store,
# test_store_conv) run again with CREC_TEST_DB_URL pointing at it; `crec db import/info/export` through a URL;
# two `crec serve` processes on one database (written through one, read through the other, the same new
# users created from both at once); and kill -9 in the middle of an ingest, after which every acknowledged event
# must be in the database. Skips (77) without the PostgreSQL server binaries, curl or jq.
# Usage: pg_store.sh /path/to/crec   (the unit-test binaries are found in the build dir's tests/)
set -u
# shellcheck source=lib/serve_common.sh
. "$(dirname "$0")/lib/serve_common.sh" "$@"
# shellcheck source=lib/pg_cluster.sh
. "$(dirname "$0")/lib/pg_cluster.sh"
if ! pg_have; then echo "skipping: PostgreSQL server binaries (initdb, pg_ctl) not found (scripts/bootstrap.sh adds postgresql)"; exit 77; fi
PGT=$(mktemp -d /tmp/crec-pg-XXXXXX)
PIDB=""
trap 'stop_server; [ -n "$PIDB" ] && kill -9 "$PIDB" 2>/dev/null; jobs -p | xargs -r kill 2>/dev/null; pg_stop; rm -rf "$T" "$PGT"' EXIT
if ! pg_start "$PGT"; then
  echo "FAIL - the throw-away cluster did not start"; cat "$PGT"/*.log 2>/dev/null | tail -20; exit 1
fi
ok "cluster on 127.0.0.1:$PG_PORT"

# ---- the store's unit tests, against PostgreSQL ----
UNIT=$(dirname "$CREC")/tests
for t in test_store test_store_conv; do
  if [ ! -x "$UNIT/$t" ]; then bad "$t not built in $UNIT"; continue; fi
  if out=$(CREC_TEST_DB_URL="$PG_URL" "$UNIT/$t" 2>&1); then ok "$t on PostgreSQL"; else bad "$t on PostgreSQL" "$(grep -v '^ *#' <<<"$out" | tail -20)"; fi
done

# ---- the CLI through a URL ----
DB="$PG_URL"
"$CREC" data synth --users 200 --items 80 --out "$T/s.crecds" >/dev/null 2>&1
"$CREC" train --data "$T/s.crecds" --model itemknn --out "$T/knn.crecm" >/dev/null 2>&1
out=$("$CREC" db import --db "$DB" --data "$T/s.crecds" 2>&1)
if grep -qE "200 users, 80 items, [0-9]+ events added" <<<"$out"; then ok "db import into PostgreSQL"; else bad "db import into PostgreSQL" "$out"; fi
"$CREC" db import --db "$T/s.db" --data "$T/s.crecds" >/dev/null 2>&1
if [ "$("$CREC" db info --db "$DB" --json | jq -c '[.users, .items, .events]')" = \
     "$("$CREC" db info --db "$T/s.db" --json | jq -c '[.users, .items, .events]')" ]; then
  ok "db info: PostgreSQL and SQLite hold the same counts"; else bad "db info counts differ"; fi
"$CREC" db export --db "$DB" --out "$T/export.crecds" >/dev/null 2>&1
"$CREC" db export --db "$T/s.db" --out "$T/export-lite.crecds" >/dev/null 2>&1
if cmp -s <("$CREC" data info "$T/export.crecds" --json | jq -S 'del(.path, .file, .name)') \
          <("$CREC" data info "$T/export-lite.crecds" --json | jq -S 'del(.path, .file, .name)'); then
  ok "db export: the PostgreSQL snapshot equals the SQLite one"; else bad "db export differs"; fi
out=$("$CREC" db info --db "postgresql://crec:secret@127.0.0.1:1/none?connect_timeout=2" 2>&1); rc=$?
if [ $rc != 0 ] && grep -q "cannot connect" <<<"$out" && ! grep -q secret <<<"$out"; then
  ok "an unreachable database: a clear error, password hidden"; else bad "unreachable database ($rc)" "$out"; fi

# ---- two servers on one database ----
if start_server "$T/a.log" --db "$DB" --model "$T/knn.crecm"; then
  UA=$U PIDA=$PID
  PID=""
  if start_server "$T/b.log" --db "$DB" --model "$T/knn.crecm"; then
    UB=$U PIDB=$PID PID=""
    code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -d '[{"user":"shared-1","item":"i3","value":2}]' "$UA/v1/events")
    if [ "$code" = 200 ] && curl -s "$UB/v1/users/shared-1" | jq -e '.history | map(.item) == ["i3"]' >/dev/null; then
      ok "written through one server, read through the other"; else bad "cross-process read ($code)" "$(curl -s "$UB/v1/users/shared-1")"; fi
    # the same new users from both servers at once: no failure, one row each
    racers=""
    for u in "$UA" "$UB"; do
      ( for i in $(seq 1 30); do
          curl -s -o /dev/null -w '%{http_code}\n' -X POST -d "[{\"user\":\"race-$i\",\"item\":\"i$((i % 80 + 1))\"}]" "$u/v1/events"
        done ) >"$T/race-${u##*:}" &
      racers="$racers $!"
    done
    # shellcheck disable=SC2086
    wait $racers
    codes=$(cat "$T"/race-* | sort | uniq -c | tr -s ' ')
    users=$(curl -s "$UA/v1/users/race-7" | jq '.history | length')
    if [ "$(cat "$T"/race-* | grep -vc '^200$')" = 0 ] && [ "$users" = 2 ]; then
      ok "60 concurrent writes creating 30 users from two processes: all acknowledged, 2 events each"
    else bad "concurrent creation:$codes, race-7 has $users events"; fi
    kill "$PIDB"; wait "$PIDB" 2>/dev/null; PIDB=""
  else bad "second server starts" "$(cat "$T/b.log")"; fi
  PID=$PIDA
  stop_server
else bad "first server starts" "$(cat "$T/a.log")"; fi

# ---- kill -9 in the middle of an ingest: every acknowledged event survives ----
kill9_ingest "$DB" "$T/knn.crecm" PostgreSQL

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
