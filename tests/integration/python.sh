#!/usr/bin/env bash
# python.sh: the Python package (python/) over the libcrec.so of this build. Makes a venv from Debian's python3
# with --system-site-packages (numpy and pytest come from Debian), pip-installs the package offline with the
# library copied in (CREC_LIB at install time), then runs python/tests with pytest; those tests check figures
# against the crec program given as $1 (same data, same JSON). Usage: python.sh /path/to/crec
#
# Under ASan (CREC_SANITIZE=ON) libcrec.so needs the ASan runtime loaded before anything else, so pytest runs
# with LD_PRELOAD of the exact libasan the library was linked against (from ldd) and detect_leaks=0 (CPython
# keeps its interpreter state to exit by design; the library's own leaks are checked by the unit tests).
set -u
CREC=$(realpath "${1:?usage: python.sh /path/to/crec}")
BUILD=$(dirname "$CREC")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
LIB=$BUILD/libcrec.so
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

# Debian's python3 first (a pyenv or conda python3 earlier on PATH rarely has numpy, pytest and venv); CREC_PYTHON
# overrides.
PY=""
for p in ${CREC_PYTHON:-} /usr/bin/python3 python3; do
  command -v "$p" >/dev/null 2>&1 || continue
  if "$p" -c 'import numpy, pytest, venv, ensurepip' 2>/dev/null; then PY=$(command -v "$p"); break; fi
done
[ -n "$PY" ] || skip "no python3 with numpy, pytest and venv (Debian: apt-get install python3-numpy python3-pytest python3-venv python3-pip python3-setuptools)"
[ -f "$LIB" ] || fail "$LIB is missing (the crec_shared target of this build: cmake --build $BUILD)"

W=$BUILD/python-test
rm -rf "$W"
mkdir -p "$W"
"$PY" -m venv --system-site-packages "$W/venv" >"$W/venv.log" 2>&1 || { cat "$W/venv.log"; fail "python3 -m venv"; }
cp -r "$SRC/python" "$W/src"  # pip builds in the source folder: a copy keeps the repository clean
CREC_LIB=$LIB CREC_SOURCE_ROOT=$SRC "$W/venv/bin/python" -m pip install --no-build-isolation --no-index \
  --no-cache-dir "$W/src" >"$W/pip.log" 2>&1 || { cat "$W/pip.log"; fail "pip install ./python"; }
echo "ok - pip install --no-build-isolation --no-index ./python into $W/venv"

ASAN_RT=$(ldd "$LIB" | awk '/libasan/ {print $3; exit}')
PRE=()
if [ -n "$ASAN_RT" ]; then
  PRE=(env "LD_PRELOAD=$ASAN_RT" "ASAN_OPTIONS=detect_leaks=0")
  echo "# libcrec.so is an ASan build: LD_PRELOAD=$ASAN_RT"
fi
cd "$W" || fail "cd $W"
# CREC_EXPECT_PACKAGED_LIB: the installed package must load its own copy of the library (no CREC_LIB now)
env -u CREC_LIB CREC_BIN="$CREC" CREC_TEST_DATA="${CREC_TEST_DATA:-$SRC/tests/data}" CREC_EXPECT_PACKAGED_LIB=1 \
  CREC_NO_PROGRESS=1 OMP_NUM_THREADS=2 PYTHONDONTWRITEBYTECODE=1 "${PRE[@]}" \
  "$W/venv/bin/python" -m pytest -q -p no:cacheprovider --basetemp="$W/tmp" "$SRC/python/tests"
