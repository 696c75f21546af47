#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the dns_* cases of wm_conn_tests against a real DNS server: dnsmasq on
# 127.0.0.1 and a free port, with no upstream, authoritative for wm.test:
#   echo.wm.test  A 127.0.0.1 (and no AAAA)
#   dual.wm.test  A 127.0.0.1, AAAA ::1
# and NXDOMAIN for anything under invalid.test. It is started here, found
# ready by connecting to its TCP port, and stopped by pid on exit.
# Usage: dns_test.sh path/to/wm_conn_tests   (exit 77 = skipped: no dnsmasq)
set -uo pipefail
bin=${1:?usage: dns_test.sh path/to/wm_conn_tests}
dnsmasq=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
if [ ! -x "$dnsmasq" ]; then
    echo "SKIP: dnsmasq is not installed (scripts/deps.sh test installs it)"
    exit 77
fi

tmp=$(mktemp -d /tmp/wm-conn-dns.XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# A port that nothing uses over UDP or TCP (racy; start_dns retries).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if command -v ss >/dev/null; then
            ss -Hlnu "sport = :$p" | grep -q . && continue
            ss -Hlnt "sport = :$p" | grep -q . && continue
        fi
        echo "$p"
        return
    done
}

# dnsmasq also serves DNS over TCP: a TCP connect tells that it listens.
ready() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_dns() {
    local p=$1 n
    "$dnsmasq" --conf-file=/dev/null --no-resolv --no-hosts --no-poll --port="$p" \
        --listen-address=127.0.0.1 --bind-interfaces --keep-in-foreground \
        --user="$(id -un)" --pid-file="$tmp/dnsmasq.pid" \
        --local=/wm.test/ --local=/invalid.test/ \
        --host-record=echo.wm.test,127.0.0.1 --host-record=dual.wm.test,127.0.0.1,::1 \
        --log-queries --log-facility="$tmp/dnsmasq.log" &
    pid=$!
    for n in $(seq 250); do
        kill -0 "$pid" 2>/dev/null || { pid=; return 1; }
        ready "$p" && return 0
        sleep 0.02
    done
    echo "dnsmasq did not get ready on port $p" >&2
    return 1
}

port=
for attempt in 1 2 3 4 5; do
    p=$(free_port)
    if start_dns "$p"; then
        port=$p
        break
    fi
    echo "dnsmasq could not start on port $p (attempt $attempt)" >&2
done
[ -n "$port" ] || { echo "FAIL: could not start dnsmasq" >&2; exit 1; }

WM_TEST_DNS="127.0.0.1:$port" "$bin" $("$bin" --list | grep '^dns_')
rc=$?
if [ $rc -ne 0 ] && [ -s "$tmp/dnsmasq.log" ]; then
    echo "--- dnsmasq log ---" >&2
    cat "$tmp/dnsmasq.log" >&2
fi
exit $rc
