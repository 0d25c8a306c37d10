#!/usr/bin/env bash
# fetch.sh: `crec data fetch` end to end on a local archive (file:// URL), never the real network:
# stdout is exactly the data folder, the import hint goes to stderr, a wrong --md5 fails with exit 1 and
# leaves nothing cached, usage errors exit 2, an unreachable host gives the offline hint.
set -u
CREC=${1:?usage: fetch.sh /path/to/crec}
if ! "$CREC" data fetch --help >/dev/null 2>&1; then
    echo "skip: 'crec data fetch' is not wired into this crec binary yet"
    exit 77
fi
if ! command -v zip >/dev/null 2>&1 || ! command -v md5sum >/dev/null 2>&1; then
    echo "skip: needs zip and md5sum to build the test archive"
    exit 77
fi
TMP=$(mktemp -d /tmp/crec-it-fetch-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export CREC_NO_PROGRESS=1 no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
fails=0
check() { # check "what" command...: the command must succeed
    local what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}

mkdir -p "$TMP/src/ml-100k"
printf '1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n' > "$TMP/src/ml-100k/u.data"
seq 1 2000 | sed 's/$/|Some Movie (1995)|01-Jan-1995||http:\/\/x|0|1|0/' > "$TMP/src/ml-100k/u.item"
(cd "$TMP/src" && zip -qr "$TMP/x.zip" ml-100k)
MD5=$(md5sum "$TMP/x.zip" | cut -c1-32)
URL="file://$TMP/x.zip"

"$CREC" data fetch --list > "$TMP/list.txt"
check "--list names ml-100k with its official URL" \
    grep -q 'https://files.grouplens.org/datasets/movielens/ml-100k.zip' "$TMP/list.txt"
check "--list names ml-latest-small" grep -q '^ml-latest-small ' "$TMP/list.txt"

"$CREC" data fetch ml-100k --cache "$TMP/cache" --url "$URL" --md5 "$MD5" > "$TMP/out.txt" 2> "$TMP/err.txt"
rc=$?
check "fetch from file:// exits 0" test "$rc" -eq 0
check "stdout is exactly the data folder" test "$(cat "$TMP/out.txt")" = "$TMP/cache/ml-100k/ml-100k"
check "u.data unpacked byte for byte" cmp -s "$TMP/src/ml-100k/u.data" "$TMP/cache/ml-100k/ml-100k/u.data"
check "u.item unpacked byte for byte" cmp -s "$TMP/src/ml-100k/u.item" "$TMP/cache/ml-100k/ml-100k/u.item"
check "import hint on stderr" grep -qF \
    "import it with: crec data import --format movielens --input $TMP/cache/ml-100k/ml-100k --out ml-100k.crecds" \
    "$TMP/err.txt"

# cached: the source can go away, --cache=DIR form
rm "$TMP/x.zip"
"$CREC" data fetch ml-100k --cache="$TMP/cache" --url "$URL" --md5="$MD5" > "$TMP/out2.txt" 2>/dev/null
check "second fetch uses the cache (source removed)" test "$?" -eq 0 -a "$(cat "$TMP/out2.txt")" = "$TMP/cache/ml-100k/ml-100k"
(cd "$TMP/src" && zip -qr "$TMP/x.zip" ml-100k)
MD5=$(md5sum "$TMP/x.zip" | cut -c1-32)

"$CREC" data fetch ml-100k --cache "$TMP/c2" --url "$URL" --md5 00000000000000000000000000000000 \
    > "$TMP/out3.txt" 2> "$TMP/err3.txt"
rc=$?
check "wrong --md5 exits 1" test "$rc" -eq 1
check "wrong --md5 names both digests" grep -q "crec data fetch: checksum mismatch.*00000000000000000000000000000000.*$MD5" "$TMP/err3.txt"
check "wrong --md5 prints nothing on stdout" test ! -s "$TMP/out3.txt"
check "wrong --md5 leaves no archive" test -z "$(ls -A "$TMP/c2")"

"$CREC" data fetch ml-3k --cache "$TMP/c2" 2> "$TMP/err4.txt"
check "unknown dataset exits 1" test "$?" -eq 1
check "unknown dataset message" grep -q "crec data fetch: unknown dataset 'ml-3k'" "$TMP/err4.txt"

"$CREC" data fetch 2>/dev/null; check "no name exits 2" test "$?" -eq 2
"$CREC" data fetch ml-100k --bogus 2>/dev/null; check "unknown option exits 2" test "$?" -eq 2
"$CREC" data fetch ml-100k --md5 2>/dev/null; check "option without value exits 2" test "$?" -eq 2

"$CREC" data fetch ml-100k --cache "$TMP/c3" --url http://127.0.0.1:9/ml-100k.zip 2> "$TMP/err5.txt"
check "unreachable host exits 1" test "$?" -eq 1
check "unreachable host gives the offline hint" grep -q "are you offline?" "$TMP/err5.txt"

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all fetch checks passed"
