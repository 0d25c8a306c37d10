#!/usr/bin/env bash
# bootstrap.sh: install the Debian packages crec needs to build, test and run, when any is missing.
# Idempotent and quiet when everything is present; needs root (or sudo) only when it installs.
set -euo pipefail
PKGS=(build-essential make cmake pkg-config libopenblas-dev liblapacke-dev libsqlite3-dev libjansson-dev
      libcurl4-openssl-dev libcmocka-dev libmicrohttpd-dev zlib1g-dev zip)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
