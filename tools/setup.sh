#!/usr/bin/env bash
# Install what Autofactura needs on Debian 12, only what is missing, then build.
# Usage: tools/setup.sh [--sanitize]   (run as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config liblua5.4-dev lua5.4 libuv1-dev
      libwebsockets-dev libwebsockets-evlib-uv libhiredis-dev libpq-dev
      libcurl4-openssl-dev libssl-dev libxml2-dev lua-cjson lua-cjson-dev
      lua-busted chromium postgresql redis-server valgrind curl time)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm  >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

for dir in tests/node tests/interop; do
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ]; then
    echo "setup: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
done

build=build; flags=()
if [ "${1:-}" = "--sanitize" ]; then build=build-asan; flags=(-DAF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug); fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)" >&2
