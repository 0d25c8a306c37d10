#!/usr/bin/env bash
# crs.sh: conversational recommendation through the real crec binary: `crec data import --format crs` (plain
# layout written here, and LastFM* from the shared data when present: the published counts and the given split),
# `crec crs train` (the user-item-attribute model), `crec crs eval` (table, JSON, transcript, every policy),
# and the errors (file:line for a bad row, unknown policy, --coarse without crs). Usage: crs.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: crs.sh /path/to/crec}")
T=$(mktemp -d /tmp/crec-crs-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -20; }
expect() {
  local name=$1 code=$2 pat=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then bad "$name (exit $rc, want $code)" "$out"; return; fi
  if [ -n "$pat" ] && ! grep -qE -- "$pat" <<<"$out"; then bad "$name (no /$pat/)" "$out"; return; fi
  ok "$name"
}

# plain layout: 60 items in 3 genres (features 0-2) with 2 of 5 styles (features 10-14); 90 users, each
# consuming one genre; 6 train, 1 valid, 1 test interactions per user (deterministic LCG)
mkdir -p "$T/plain"
awk -v dir="$T/plain" 'BEGIN {
  print "item\tfeature" > dir "/item_feature.tsv"
  for (i = 0; i < 60; i++) { printf "%d\t%d\n%d\t%d\n%d\t%d\n", i, int(i / 20), i, 10 + i % 5, i, 10 + (i + 2) % 5 > dir "/item_feature.tsv" }
  print "feature\tcoarse_feature" > dir "/feature_coarse.tsv"
  for (f = 0; f < 3; f++) printf "%d\t0\n", f > dir "/feature_coarse.tsv"
  for (f = 10; f < 15; f++) printf "%d\t%d\n", f, 1 + f % 2 > dir "/feature_coarse.tsv"
  print "split\tuser\titem" > dir "/interactions.tsv"
  s = 99
  for (u = 0; u < 90; u++) for (k = 0; k < 8; k++) {
    s = (s * 1103515245 + 12345) % 2147483648; i = (u % 3) * 20 + int(s / 2147483648 * 20)
    printf "%s\t%d\t%d\n", (k < 6 ? "train" : (k == 6 ? "valid" : "test")), u, i > dir "/interactions.tsv"
  }
}'
expect "import plain layout" 0 "90 users, 60 items, 720 interactions, 8 attributes" \
  "$CREC" data import --format crs --input "$T/plain" --out "$T/p.crecds"
expect "a crs folder is recognised (auto)" 0 "90 users, 60 items, 720 interactions, 8 attributes" \
  "$CREC" data import --input "$T/plain" --out "$T/p2.crecds"
expect "import coarse variant" 0 "3 attributes" \
  "$CREC" data import --format crs --coarse --input "$T/plain" --out "$T/pc.crecds"
expect "--coarse needs crs" 2 "needs --format crs" \
  "$CREC" data import --format pairs --coarse --input "$T/plain/interactions.tsv" --out "$T/x.crecds"
expect "given split trains a model" 0 "split given" \
  "$CREC" train --data "$T/p.crecds" --model pop --split given --out "$T/pop.crecm"
expect "crs train" 0 "uiam dim 16, 20 epochs" \
  "$CREC" crs train --data "$T/p.crecds" --dim 16 --epochs 20 --out "$T/m.crecrs"
for p in greedy maxent cpr tree; do
  out=$("$CREC" crs eval --data "$T/p.crecds" --policy $p --model "$T/m.crecrs" --json 2>&1)
  if grep -qE '"pairs": 90,' <<<"$out" && grep -qE '"sr15": (1\.0000|0\.9[0-9]+)' <<<"$out" && grep -q '"protocol"' <<<"$out"; then
    ok "eval $p (JSON, SR@15 >= 0.9 on 60 items)"
  else bad "eval $p" "$out"; fi
done
expect "train-policy unicorn" 0 "unicorn, 200 episodes on 90 validation pairs" \
  "$CREC" crs train-policy --data "$T/p.crecds" --model "$T/m.crecrs" --episodes 200 --heldout 30 --out "$T/a.crecrs"
expect "eval unicorn" 0 '"policy": "unicorn"' \
  "$CREC" crs eval --data "$T/p.crecds" --policy unicorn --model "$T/m.crecrs" --agent "$T/a.crecrs" --json
expect "unicorn needs an agent" 2 "needs --model" "$CREC" crs eval --data "$T/p.crecds" --policy unicorn
expect "eval table and protocol" 0 "protocol: plain: 90 test pairs .* split given;.* max 15 turns" \
  "$CREC" crs eval --data "$T/p.crecds" --policy maxent
expect "eval valid split, sample" 0 '"pairs": 20, ' \
  "$CREC" crs eval --data "$T/p.crecds" --policy cpr --split valid --pairs 20 --json
"$CREC" crs eval --data "$T/p.crecds" --policy maxent --pairs 5 --transcript "$T/tr.txt" >/dev/null 2>&1
if grep -q "opens with attribute" "$T/tr.txt" && grep -qE "turn 1: (ask|recommend)" "$T/tr.txt"; then ok "transcript"
else bad "transcript" "$(head -5 "$T/tr.txt")"; fi
expect "unknown policy" 2 "unknown --policy 'foo'" "$CREC" crs eval --data "$T/p.crecds" --policy foo
expect "bad --set" 2 "bad --set" "$CREC" crs eval --data "$T/p.crecds" --policy cpr --set mass=2
expect "model of another dataset" 1 "other sizes" \
  "$CREC" crs eval --data "$T/pc.crecds" --policy cpr --model "$T/m.crecrs"
expect "model of another split" 1 "trained on split 'given'" \
  "$CREC" crs eval --data "$T/p.crecds" --policy cpr --model "$T/m.crecrs" --scheme loo
expect "crs --help" 0 "usage: crec crs eval" "$CREC" crs eval --help
# crec chat: words matched to attribute names (case, plurals), yes / no, a critique, a pick by number
printf 'attr_id\tname\n0\tRock\n1\tJazz\n2\tFolk\n10\tFemale Vocals\n11\tPiano\n12\tGuitar\n13\tLive\n14\tAcoustic\n' > "$T/names.tsv"
out=$(printf 'hello\nsomething with rocks and female vocal, not jazz\n1\n' | \
  "$CREC" chat --data "$T/p.crecds" --model "$T/m.crecrs" --names "$T/names.tsv" 2>&1)
if grep -q "I know attributes such as" <<<"$out" && grep -qE "Noted: (Rock, Female Vocals|Female Vocals, Rock) - 8 items" <<<"$out" \
   && grep -q "I recommend:" <<<"$out" && grep -qE "because you like (Female Vocals, Rock|Rock, Female Vocals)" <<<"$out" \
   && grep -q "Great - " <<<"$out"; then ok "chat: words to attributes, reasons, a pick"
else bad "chat: words to attributes, reasons, a pick" "$out"; fi
out=$(printf 'ROCK\nnot live\n1\n' | \
  "$CREC" chat --data "$T/p.crecds" --model "$T/m.crecrs" --names "$T/names.tsv" 2>&1)
if grep -q "Noted: Rock - 20 items" <<<"$out" && grep -q "(noted: not Live)" <<<"$out" && grep -q "Great - " <<<"$out"; then
  ok "chat: critique 'not X', case-insensitive names"
else bad "chat: critique 'not X'" "$out"; fi
expect "chat --help" 0 "usage: crec chat" "$CREC" chat --help
expect "chat unknown user" 1 "unknown user" "$CREC" chat --data "$T/p.crecds" --user nobody </dev/null

# a bad row names file:line
sed -i '5s/^train/trian/' "$T/plain/interactions.tsv"
expect "bad split word: file:line" 1 "interactions.tsv:5: split must be train, valid or test" \
  "$CREC" data import --format crs --input "$T/plain" --out "$T/y.crecds"
# a dataset without attributes
printf 'u1 i1\nu1 i2\nu2 i1\nu2 i3\n' > "$T/pairs.txt"
"$CREC" data import --format pairs --input "$T/pairs.txt" --out "$T/na.crecds" >/dev/null 2>&1
expect "no attributes" 1 "no item attributes" "$CREC" crs eval --data "$T/na.crecds" --policy greedy

# LastFM* from the shared data: the published counts, the given split, a short evaluation
D="${CREC_SHARED_DATA:-../shared/data}/lastfm-star-crs"
if [ -f "$D/review_dict_train.json" ]; then
  expect "LastFM* import" 0 "1801 users, 7432 items, 76693 interactions, 8438 attributes" \
    "$CREC" data import --format crs --input "$D" --out "$T/lf.crecds"
  expect "LastFM coarse import" 0 "33 attributes" \
    "$CREC" data import --format crs --coarse --input "$D" --out "$T/lfc.crecds"
  expect "LastFM* maxent, 100 test pairs" 0 '"pairs": 100, ' \
    "$CREC" crs eval --data "$T/lf.crecds" --policy maxent --pairs 100 --json
else
  echo "skipping LastFM* checks: $D not found (shared datasets absent)"
fi
echo "crs.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
