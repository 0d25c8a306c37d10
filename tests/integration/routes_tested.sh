#!/usr/bin/env bash
# routes_tested.sh: every route of the server's one route table (CREC__ROUTES in src/serve/request.h) is called by
# some test - its path (an {id} matched as any id, {file} as a file name) appears in tests/ or python/, for a route
# other than GET on a line that also names its method. A static check, so that a new route cannot land untested;
# test_openapi_routes checks the same table against web/openapi.json.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
routes=$(grep -o 'X([A-Z_0-9]*, *"[A-Z]*", *"[^"]*"' "$ROOT/src/serve/request.h" |
         sed 's/X([A-Z_0-9]*, *"\([A-Z]*\)", *"\([^"]*\)"/\1 \2/')
n=$(echo "$routes" | grep -c .)
[ "$n" -ge 30 ] || { echo "FAIL - read only $n routes from src/serve/request.h (has the table's format changed?)"; exit 1; }
bad=0
while read -r m p; do
  re=$(echo "$p" | sed 's/{id}/[^\/" ?]+/g; s/{file}/[a-z_.]+/g')
  if [ "$m" = GET ]; then
    hits=$(grep -rhE -- "$re" "$ROOT/tests/integration" "$ROOT/tests/unit" "$ROOT/python" 2>/dev/null | grep -c .)
  else
    hits=$(grep -rhE -- "$re" "$ROOT/tests/integration" "$ROOT/tests/unit" "$ROOT/python" 2>/dev/null | grep -c -- "$m")
  fi
  if [ "$hits" -eq 0 ]; then echo "FAIL - $m $p: no test calls it"; bad=1; fi
done <<< "$routes"
[ $bad -eq 0 ] && echo "ok - all $n routes of CREC__ROUTES are called by a test"
exit $bad
