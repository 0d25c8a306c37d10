#!/usr/bin/env bash
# genrec.sh: item indexes and the generative retrieval model through the real crec binary: crec index build for
# every method on synthetic data, crec index info (table and JSON), the errors a user sees (unknown method, missing
# vectors, a bad vector file with file:line, a corrupt index file), then genrec trained with an index file,
# evaluated (full ranking through its list), asked for recommendations, and refused an index of another dataset;
# the aligned fusion (--align 1) and its errors, and a model with TIGER's per-token encoder rows (enc_tokens=1).
# Usage: genrec.sh /path/to/crec
set -u
CREC=$(realpath "${1:?usage: genrec.sh /path/to/crec}")
T=$(mktemp -d /tmp/crec-genrec-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CREC_NO_PROGRESS=1 OMP_NUM_THREADS=2
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

expect "index --help" 0 "usage: crec index" -- "$CREC" index --help
expect "index build --help" 0 "collaborative" -- "$CREC" index build --help
expect "index info --help" 0 "usage: crec index info" -- "$CREC" index info --help
expect "data synth" 0 "400 users, 120 items" -- "$CREC" data synth --users 400 --items 120 --out "$T/s.crecds"
expect "data synth (other)" 0 "" -- "$CREC" data synth --users 400 --items 121 --out "$T/o.crecds"
for m in random sequential collaborative semantic hybrid; do
  expect "index build $m" 0 "codes unique" -- "$CREC" index build --data "$T/s.crecds" --method $m --N 4 --M 20 --K 8 --out "$T/$m.crecidx"
done
expect "index build rq content" 0 "rq \(content vectors" -- "$CREC" index build --data "$T/s.crecds" --method rq --vectors content --dim 8 --K 8 --out "$T/rq.crecidx"
# external vectors: the loader's errors (a well-formed file is tested in tests/unit/test_index.c)
printf 'nosuchitem 1 2\n' > "$T/v.txt"
expect "external vectors: items without a row" 1 "items have no row" -- "$CREC" index build --data "$T/s.crecds" --method rq --vectors external --file "$T/v.txt" --out "$T/x.crecidx"
printf 'a 1 2\nb 1 x\n' > "$T/v2.txt"
expect "external vectors: bad value names file:line" 1 "v2.txt:2:" -- "$CREC" index build --data "$T/s.crecds" --method rq --vectors external --file "$T/v2.txt" --out "$T/x.crecidx"
expect "rq collaborative needs a model" 2 "needs --model" -- "$CREC" index build --data "$T/s.crecds" --method rq --vectors collaborative --out "$T/x.crecidx"
expect "unknown method" 2 "one of random, sequential" -- "$CREC" index build --data "$T/s.crecds" --method nosuch --out "$T/x.crecidx"
expect "missing --out" 2 "required" -- "$CREC" index build --data "$T/s.crecds" --method random
expect "index info" 0 "code usage|level +K +used" -- "$CREC" index info "$T/collaborative.crecidx"
expect "index info --json" 0 '"method": "collaborative".*"per_level"' -- "$CREC" index info "$T/collaborative.crecidx" --json
head -c 40 "$T/random.crecidx" > "$T/bad.crecidx"
expect "truncated index refused" 1 "not a valid|checksum|format|corrupt|read" -- "$CREC" index info "$T/bad.crecidx"
# rq from a trained sasrec's item table
expect "train sasrec" 0 "" -- "$CREC" train --data "$T/s.crecds" --model sasrec --out "$T/sas.crecm" --set epochs=1 --set dim=16
expect "index build rq collaborative" 0 "collaborative vectors d=16" -- "$CREC" index build --data "$T/s.crecds" --method rq --vectors collaborative --model "$T/sas.crecm" --K 8 --out "$T/rqc.crecidx"
expect "index build rq fused" 0 "fused vectors d=24" -- "$CREC" index build --data "$T/s.crecds" --method rq --vectors fused --model "$T/sas.crecm" --dim 8 --K 8 --out "$T/rqf.crecidx"
# PRORec-style aligned fusion: the alignment is trained and logged; --align only with fused vectors
expect "index build rq fused --align 1" 0 "aligned 8 \+ 16 -> 8 dims: InfoNCE" -- "$CREC" index build --data "$T/s.crecds" --method rq --vectors fused --align 1 --align-dim 8 --align-epochs 3 --align-batch 64 --model "$T/sas.crecm" --dim 8 --K 8 --out "$T/rqfa.crecidx"
expect "--align needs fused vectors" 2 "applies to --method rq --vectors fused" -- "$CREC" index build --data "$T/s.crecds" --method rq --vectors content --align 1 --out "$T/x.crecidx"
expect "--align-tau must be positive" 2 "align-tau" -- "$CREC" index build --data "$T/s.crecds" --method rq --vectors fused --align 1 --align-tau 0 --model "$T/sas.crecm" --out "$T/x.crecidx"
# the model
expect "train genrec with an index" 0 "genrec on" -- "$CREC" train --data "$T/s.crecds" --model genrec --out "$T/g.crecm" --set index="$T/collaborative.crecidx" --set epochs=2 --set dim=16 --set batch=64
expect "eval genrec: full ranking from its list" 0 "ranked from the model's top-20 list" -- "$CREC" eval --data "$T/s.crecds" --model "$T/g.crecm"
expect "recommend genrec" 0 "" -- "$CREC" recommend --data "$T/s.crecds" --model "$T/g.crecm" --user 1 --k 5
expect "train genrec enc_tokens=1 (TIGER's per-token encoder)" 0 "genrec on" -- "$CREC" train --data "$T/s.crecds" --model genrec --out "$T/ge.crecm" --set index="$T/rqfa.crecidx" --set enc_tokens=1 --set epochs=1 --set dim=16 --set batch=64
expect "eval genrec enc_tokens=1" 0 "ranked from the model's top-20 list" -- "$CREC" eval --data "$T/s.crecds" --model "$T/ge.crecm"
expect "index of another dataset refused" 2 "parameter .index.*another dataset" -- "$CREC" train --data "$T/o.crecds" --model genrec --out "$T/g2.crecm" --set index="$T/collaborative.crecidx" --set epochs=1
expect "heads must divide dim" 2 "heads" -- "$CREC" train --data "$T/s.crecds" --model genrec --out "$T/g3.crecm" --set dim=16 --set heads=3

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
