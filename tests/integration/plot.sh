#!/usr/bin/env bash
# plot.sh: crec plot end to end: a tiny CSV becomes a well-formed SVG (checked by xmllint, else Python's XML parser)
# holding every series name (escaped) and one polyline per series; --logx labels its axis; bad CSV files are
# refused with file:line and the offending column. Usage: plot.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: plot.sh /path/to/crec}")
T=$(mktemp -d /tmp/crec-plot-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -20; }
# expect NAME EXIT-CODE PATTERN -- command...   (PATTERN grep -E over stdout+stderr; '' = any)
expect() {
  local name=$1 code=$2 pat=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then bad "$name (exit $rc, want $code)" "$out"; return; fi
  if [ -n "$pat" ] && ! grep -qE -- "$pat" <<<"$out"; then bad "$name (no /$pat/)" "$out"; return; fi
  ok "$name"
}
well_formed() {
  if command -v xmllint >/dev/null 2>&1; then xmllint --noout "$1" 2>&1
  elif command -v python3 >/dev/null 2>&1; then python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$1" 2>&1
  else echo "no XML checker (xmllint or python3) - cannot check well-formedness"; return 77; fi
}

expect "help" 0 "usage: crec plot" -- "$CREC" plot --help
expect "listed in crec --help" 0 "plot " -- "$CREC" --help
expect "missing --out is a usage error" 2 "required" -- "$CREC" plot --csv x.csv --x a --y b

cat >"$T/s.csv" <<'EOF'
model,flops,ndcg
"hstu D32",1e12,0.05
"hstu D32",4e12,0.07
"hstu D32",2e12,0.06
sasrec & <co>,3e12,0.04
sasrec & <co>,9e12,nan
sasrec & <co>,6e12,0.045
EOF
expect "tiny CSV -> SVG" 0 "2 series, 6 points" -- "$CREC" plot --csv "$T/s.csv" --x flops --y ndcg --series model --out "$T/s.svg"
if [ -s "$T/s.svg" ]; then
  out=$(well_formed "$T/s.svg"); rc=$?
  if [ $rc = 77 ]; then echo "skip - $out"; elif [ $rc = 0 ]; then ok "SVG is well-formed XML"; else bad "SVG is not well-formed" "$out"; fi
  grep -q "hstu D32" "$T/s.svg" && ok "series name 1 in the SVG" || bad "series name 1 missing"
  grep -q "sasrec &amp; &lt;co&gt;" "$T/s.svg" && ok "series name 2 escaped in the SVG" || bad "series name 2 missing or unescaped"
  n=$(grep -o "<polyline" "$T/s.svg" | wc -l)
  [ "$n" -ge 2 ] && ok "a line per series ($n polylines)" || bad "want >= 2 polylines, got $n" "$(head -c 2000 "$T/s.svg")"
  grep -q "ndcg against flops" "$T/s.svg" && ok "default title" || bad "no default title"
else
  bad "no SVG written"
fi
expect "--logx" 0 "1 series" -- "$CREC" plot --csv "$T/s.csv" --x flops --y ndcg --out "$T/l.svg" --logx --title "T"
grep -q "log10(flops)" "$T/l.svg" 2>/dev/null && ok "--logx labels the axis log10(COL)" || bad "--logx axis label"

# bad input: file:line: reason
printf 'a,b\n1,2\n3\n' >"$T/short.csv"
expect "short row -> file:line" 1 "short.csv:3: 1 fields, the header has 2" -- "$CREC" plot --csv "$T/short.csv" --x a --y b --out "$T/x.svg"
printf 'a,b\n1,2\nzz,3\n' >"$T/nan.csv"
expect "non-numeric x -> file:line and column" 1 "nan.csv:3: column 'a'" -- "$CREC" plot --csv "$T/nan.csv" --x a --y b --out "$T/x.svg"
printf 'a,b\n1,2\n' >"$T/ok.csv"
expect "unknown column -> file:1" 1 "ok.csv:1: no column 'c'" -- "$CREC" plot --csv "$T/ok.csv" --x a --y c --out "$T/x.svg"
printf 'a,b\n0,2\n' >"$T/zero.csv"
expect "--logx with x <= 0 -> file:line" 1 "zero.csv:2: .*x > 0" -- "$CREC" plot --csv "$T/zero.csv" --x a --y b --logx --out "$T/x.svg"
printf 'a,b\n"1,2\n' >"$T/quote.csv"
expect "unterminated quote -> file:line" 1 "quote.csv:2: unterminated quote" -- "$CREC" plot --csv "$T/quote.csv" --x a --y b --out "$T/x.svg"
printf 'a,b\n' >"$T/hdr.csv"
expect "header only -> no data rows" 1 "hdr.csv:1: no data rows" -- "$CREC" plot --csv "$T/hdr.csv" --x a --y b --out "$T/x.svg"
: >"$T/empty.csv"
expect "empty file" 1 "empty.csv:1: empty file" -- "$CREC" plot --csv "$T/empty.csv" --x a --y b --out "$T/x.svg"
expect "missing file" 1 "cannot open" -- "$CREC" plot --csv "$T/none.csv" --x a --y b --out "$T/x.svg"
[ ! -e "$T/x.svg" ] && ok "no SVG left behind by failures" || bad "a failed run wrote x.svg"

echo "# plot.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
