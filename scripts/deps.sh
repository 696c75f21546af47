#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages wm needs, and nothing when they are all there.
# Usage: scripts/deps.sh [build|test|bench]
#   build  compilers and the libraries wm links (the default)
#   test   adds clang and its sanitizers, dnsmasq, curl, Debian's chromium, and
#          node's `ws` and playwright-core in tests/node/node_modules (npm ci,
#          from tests/node/package-lock.json)
#   bench  adds wrk and nginx, the anchors of bench/http, redis-server (the
#          anchor of bench/globaldata and bench/channel), and the node peers
# Idempotent and quick: dpkg is asked first, apt only runs for what is missing,
# npm only when tests/node/node_modules is older than the lock file.
set -euo pipefail

want=(build-essential cmake pkg-config libevent-dev libmsgpack-dev libsqlite3-dev
      libssl-dev openssl zlib1g-dev)
mode=${1:-build}
case $mode in
build) ;;
test) want+=(clang libclang-rt-14-dev clang-format dnsmasq-base iproute2 procps curl
             python3 chromium) ;;
bench) want+=(wrk nginx curl procps redis-server redis-tools) ;;
*) echo "deps.sh: unknown mode '$mode' (build, test or bench)" >&2; exit 2 ;;
esac
# node and npm: the machine's own when it has them, else Debian's.
if [ "$mode" != build ] && ! command -v npm >/dev/null; then
    want+=(nodejs npm)
fi

# node_peers: tests/node/node_modules as the lock file says, once.
node_peers() {
    local d
    d="$(dirname "$0")/../tests/node"
    [ "$mode" = build ] && return 0
    if [ ! -e "$d/node_modules/.package-lock.json" ] ||
        [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
        echo "deps: npm ci in tests/node" >&2
        (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
}

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    node_peers
    exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
# apt must not start daemons (dnsmasq) as services on a machine without systemd.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
node_peers
