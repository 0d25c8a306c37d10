#!/usr/bin/env bash
# bootstrap.sh: install the Debian packages crec needs to build, test and run, when any is missing.
# Idempotent and quiet when everything is present; needs root (or sudo) only when it installs.
set -euo pipefail
PKGS=(build-essential make cmake pkg-config libopenblas-openmp-dev liblapacke-dev libsqlite3-dev libjansson-dev
      libcurl4-openssl-dev libcmocka-dev libmicrohttpd-dev zlib1g-dev zip
      curl jq wrk  # serve tests (curl, jq), serving bench (wrk)
      redis-server libhiredis-dev  # events through Redis Streams: crec serve --events, crec stream train (docs/SERVING.md)
      postgresql libpq-dev  # the PostgreSQL store: --db postgresql://... (libpq), its tests start initdb/pg_ctl
      openmpi-bin libopenmpi-dev  # data-parallel training: mpirun -np N crec train (docs/DISTRIBUTED.md)
      clang libclang-rt-dev libomp-dev  # libFuzzer targets (tests/fuzz): clang, its fuzzer/sanitizer runtimes, OpenMP
      python3 python3-numpy python3-pip python3-pytest python3-venv python3-setuptools python3-wheel)  # python/ package
# The dashboard's browser test (tests/integration/web.sh) needs Debian's chromium: about 80 MB to download,
# 360 MB installed, so only on request: CREC_BROWSER_TESTS=1 scripts/bootstrap.sh
if [ "${CREC_BROWSER_TESTS:-0}" = 1 ]; then PKGS+=(chromium); command -v npm >/dev/null || PKGS+=(nodejs npm); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# crec runs its own OpenMP loops: OpenBLAS's OpenMP flavour shares their thread pool, while the pthread flavour's
# busy-waiting threads fight them for the cores (small sgemm after an OpenMP loop: 1.5-4x slower; docs/BLAS.md).
# Debian ranks the pthread flavour higher, so point the alternatives at the OpenMP one when both are installed.
for name in $(update-alternatives --get-selections 2>/dev/null | awk '$1 ~ /blas|lapack/ {print $1}'); do
  want=$(update-alternatives --list "$name" 2>/dev/null | grep openblas-openmp | head -n 1 || true)
  [ -n "$want" ] || continue
  now=$(readlink -f "/etc/alternatives/$name" 2>/dev/null || true)
  if [ "$now" != "$(readlink -f "$want")" ]; then
    echo "bootstrap: $name -> $want" >&2
    $SUDO update-alternatives --quiet --set "$name" "$want"
  fi
done
