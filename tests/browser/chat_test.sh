#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Headless Chromium against example-ws-chat, over ws and over wss: the
# program serves its page, two browser users open it, and a line each types
# must reach the other (chat_test.js drives the browser). The wss run uses a
# CA and a localhost certificate made here with the openssl CLI; chromium is
# told to accept that certificate's key and no other.
# Usage: chat_test.sh PATH/TO/example-ws-chat
# Needs /usr/bin/chromium and tests/node/node_modules (scripts/deps.sh test).
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium missing: run scripts/deps.sh test"; exit 1; }
[ -d "$here/../node/node_modules/playwright-core" ] ||
    { echo "FAIL: playwright-core missing: run scripts/deps.sh test"; exit 1; }
dir=$(mktemp -d /tmp/wm-browser.XXXXXX)
pid=
stop_server() {
    [ -n "$pid" ] || return 0
    "$bin" stop --pid-file="$dir/chat.pid" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}
cleanup() { stop_server; rm -rf "$dir"; }
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run_case SCHEME [--tls CERT KEY]: starts the chat, drives two browsers.
run_case() {
    local scheme=$1 spki=
    shift
    local hp wp
    hp=$(free_port)
    wp=$(free_port)
    "$bin" --http "http://127.0.0.1:$hp" --ws "websocket://127.0.0.1:$wp" "$@" \
        start --pid-file="$dir/chat.pid" >"$dir/server.log" 2>&1 &
    pid=$!
    local curl_tls=()
    [ "$scheme" = https ] && curl_tls=(--cacert "$dir/ca.crt")
    for _ in $(seq 100); do
        curl -sf "${curl_tls[@]}" -o /dev/null "$scheme://localhost:$hp/" && break
        sleep 0.05
    done
    curl -sf "${curl_tls[@]}" -o "$dir/page.html" "$scheme://localhost:$hp/" ||
        { echo "FAIL: the chat page is not served on $scheme"; cat "$dir/server.log"; exit 1; }
    local want="ws://localhost:$wp/"
    [ "$scheme" = https ] && want="wss://localhost:$wp/"
    grep -q "content=\"$want\"" "$dir/page.html" ||
        { echo "FAIL: the page does not point at $want"; exit 1; }
    if [ "$scheme" = https ]; then
        spki=$(openssl x509 -in "$dir/server.crt" -pubkey -noout |
            openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
    fi
    if ! node "$here/chat_test.js" "$scheme://localhost:$hp/" $spki; then
        echo "---- server log"; cat "$dir/server.log"; exit 1
    fi
    stop_server
}

run_case http
"$here/../common/mk_certs.sh" "$dir"
run_case https --tls "$dir/server.crt" "$dir/server.key"
