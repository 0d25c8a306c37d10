#!/usr/bin/env bash
# real_data.sh: the real public datasets of ../shared/data through the real binary: import counts, and on
# ML-100K and Amazon Beauty (leave-one-out, full ranking) item-kNN must beat popularity, which must beat random.
# Skips (exit 77) when the shared data folder is absent.
set -u
CREC=$(realpath "${1:?usage: real_data.sh /path/to/crec}")
S=${CREC_SHARED_DATA:-$(dirname "$0")/../../../shared/data}
if [ ! -f "$S/ml-100k/u.data" ] || [ ! -f "$S/amazon-beauty/Beauty.txt" ]; then
  echo "skipping: shared datasets not found under $S"
  exit 77
fi
T=$(mktemp -d /tmp/crec-real-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -20; }
check() { if grep -qE -- "$2" <<<"$3"; then ok "$1"; else bad "$1" "$3"; fi; }

out=$("$CREC" data import --format movielens --input "$S/ml-100k" --out "$T/ml.crecds" 2>&1)
check "ML-100K import counts" "943 users, 1682 items, 100000 interactions" "$out"
out=$("$CREC" data info "$T/ml.crecds" --json 2>&1)
check "ML-100K has time and ratings" '"has_time": true, "has_value": true' "$out"
out=$("$CREC" data import --format sequences --input "$S/amazon-beauty/Beauty.txt" \
      --items "$S/amazon-beauty/Beauty_item2attributes.json" --out "$T/beauty.crecds" 2>&1)
check "Beauty import counts" "22363 users, 12101 items, 198502 interactions" "$out"

ndcg() { # data model -> NDCG@10 (full ranking, loo)
  "$CREC" train --data "$1" --model "$2" --out "$T/$2.crecm" 2>/dev/null &&
  "$CREC" eval --data "$1" --model "$T/$2.crecm" --k 10 --json 2>/dev/null | tr -d ' \n' |
    sed -E 's/.*"NDCG@10":([0-9.e-]+).*/\1/'
}
for d in ml beauty; do
  r=$(ndcg "$T/$d.crecds" random); p=$(ndcg "$T/$d.crecds" pop); k=$(ndcg "$T/$d.crecds" itemknn)
  echo "# $d NDCG@10: random $r  pop $p  itemknn $k"
  if awk -v r="$r" -v p="$p" -v k="$k" 'BEGIN { exit !(r < p && p < k) }'; then ok "$d: random < pop < itemknn"
  else bad "$d: random < pop < itemknn (random $r, pop $p, itemknn $k)"; fi
done
echo "real data: $pass passed, $fail failed"
[ "$fail" = 0 ]
