#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages wm needs, and nothing when they are all there.
# Usage: scripts/deps.sh [build|test]   (test adds clang, sanitizers, dnsmasq, valgrind)
# Idempotent and quick: dpkg is asked first, apt only runs for what is missing.
set -euo pipefail

want=(build-essential cmake pkg-config libevent-dev libmsgpack-dev libsqlite3-dev
      libssl-dev openssl)
if [ "${1:-build}" = test ]; then
    want+=(clang libclang-rt-14-dev clang-format dnsmasq-base iproute2 procps curl
           python3)
fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

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
