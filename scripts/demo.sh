#!/usr/bin/env bash
# demo.sh: the main job on a fresh machine: install missing Debian packages, build (Release), run `crec demo`
# on the embedded synthetic data. Extra arguments go to `crec demo` (e.g. --users 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
exec ./build/crec demo "$@"
