#!/usr/bin/env bash
# stream.sh: crec stream eval end to end on small synthetic data: help, the three modes on one replay (table,
# JSON, SVG, per-event TSV), subsampling stated in the protocol, and the errors a user sees for bad input.
# Usage: stream.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: stream.sh /path/to/crec}")
T=$(mktemp -d /tmp/crec-stream-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -20; }
expect() {
  local name=$1 code=$2 pat=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then bad "$name (exit $rc, want $code)" "$out"; return; fi
  if [ -n "$pat" ] && ! grep -qE -- "$pat" <<<"$out"; then bad "$name (no /$pat/)" "$out"; return; fi
  ok "$name"
}

expect "crec stream --help" 0 "usage: crec stream eval" -- "$CREC" stream --help
expect "crec stream eval --help" 0 "Prequential evaluation" -- "$CREC" stream eval --help
expect "crec stream alone is a usage error" 2 "usage" -- "$CREC" stream
expect "unknown subcommand" 2 "unknown subcommand 'frob'" -- "$CREC" stream frob

"$CREC" data synth --users 300 --items 150 --out "$T/s.crecds" >/dev/null 2>&1 || bad "synth"

expect "three modes" 0 "run 3: periodic onlinemf every 1000" -- "$CREC" stream eval --data "$T/s.crecds" \
  --model online,static,periodic --every 1000 --windows 4 --out-json "$T/r.json" --svg "$T/r.svg" \
  --per-event "$T/ev.tsv" --set epochs=2
out=$("$CREC" stream eval --data "$T/s.crecds" --model online,static --windows 4 --eval-every 3 --users 0.5 2>&1)
grep -q "SUBSAMPLED: every 3-th event of a seeded user sample" <<<"$out" && ok "subsampling in the protocol" \
  || bad "subsampling in the protocol" "$out"
grep -qE "^all +[0-9]+ +0\.[0-9]+" <<<"$out" && ok "table has a total row" || bad "table has a total row" "$out"

# JSON: three runs, four windows each, metrics in [0, 1], the repeated-target count in the protocol
if command -v python3 >/dev/null; then
  if python3 - "$T/r.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert "repeated targets = misses" in d["protocol"], d["protocol"]
assert [r["mode"] for r in d["runs"]] == ["online", "static", "periodic"], d["runs"]
for r in d["runs"]:
    assert len(r["windows"]) == 4
    assert 0 <= r["HR@10"] <= 1 and 0 <= r["NDCG@10"] <= r["HR@10"]
    assert sum(w["tested"] for w in r["windows"]) == d["tested"]
assert d["runs"][2]["retrains"] >= 1
EOF
  then ok "JSON report"; else bad "JSON report" "$(cat "$T/r.json")"; fi
else
  grep -q '"runs"' "$T/r.json" && ok "JSON report (no python3: shallow check)" || bad "JSON report"
fi
# SVG: an svg root, one series group per run
[ "$(grep -c 'class="series"' "$T/r.svg")" = 3 ] && grep -q '</svg>' "$T/r.svg" && ok "SVG plot with 3 series" \
  || bad "SVG plot with 3 series" "$(head -c 600 "$T/r.svg")"
# per-event TSV: a header and one line per tested event of the first run
n_tested=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['tested'])" "$T/r.json" 2>/dev/null || echo "")
lines=$(($(wc -l <"$T/ev.tsv") - 1))
if [ -z "$n_tested" ] || [ "$lines" = "$n_tested" ]; then ok "per-event TSV ($lines lines)"; else bad "per-event TSV: $lines lines, $n_tested tested"; fi

# ReLoop2's error memory on top of a mode: labelled, stated in the protocol
out=$("$CREC" stream eval --data "$T/s.crecds" --model static --windows 2 --errmem 1 2>&1)
grep -q "run 1: static onlinemf +errmem 1" <<<"$out" && grep -q "ReLoop2 error memory: lambda 1" <<<"$out" \
  && ok "error memory run" || bad "error memory run" "$out"

# one figure from several reports: runs deduplicated by label
expect "plot --help" 0 "usage: crec stream plot" -- "$CREC" stream plot --help
expect "plot two reports" 0 "" -- "$CREC" stream plot --svg "$T/m.svg" --metric hr "$T/r.json" "$T/r.json"
[ "$(grep -c 'class="series"' "$T/m.svg" 2>/dev/null)" = 3 ] && ok "merged plot has 3 series" || bad "merged plot"
echo '{"runs": 1}' >"$T/bad.json"
expect "plot of a non-report" 1 "not a crec stream eval report" -- "$CREC" stream plot --svg "$T/x.svg" "$T/bad.json"

# errors
expect "missing --data" 2 "--data is required" -- "$CREC" stream eval
expect "bad mode" 2 "unknown mode 'sometimes'" -- "$CREC" stream eval --data "$T/s.crecds" --model sometimes
expect "bad warm" 2 "--warm must be in" -- "$CREC" stream eval --data "$T/s.crecds" --warm 1.5
expect "unknown model" 2 "unknown model 'nope'" -- "$CREC" stream eval --data "$T/s.crecds" --base-model nope
expect "online needs update" 2 "no update hook" -- "$CREC" stream eval --data "$T/s.crecds" --model online \
  --online-model pop
expect "bad hyper-parameter" 2 "'factors'" -- "$CREC" stream eval --data "$T/s.crecds" --model online \
  --online-set factors=0
expect "missing file" 1 "no such file" -- "$CREC" stream eval --data "$T/none.crecds"

echo "stream.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
