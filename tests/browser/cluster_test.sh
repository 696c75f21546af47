#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Headless Chromium against the cluster-push deployment, over ws and over
# wss: one channel-server and two nodes of example-cluster-push (a and b)
# on loopback ports picked here. cluster_test.js opens pages on both nodes
# and checks that pushes sent through node b's HTTP API reach a page on
# node a (to its user, to its connection id, to everyone) and that a group
# message sent from a page on node b reaches the group's pages on both
# nodes and no one else. The wss run starts the nodes with --tls and a CA
# and localhost certificate made here (tests/common/mk_certs.sh): chromium
# is told to accept that certificate's key and no other, node's fetch gets
# the CA through NODE_EXTRA_CA_CERTS.
# Usage: cluster_test.sh CHANNEL-SERVER EXAMPLE-CLUSTER-PUSH
# Needs /usr/bin/chromium and tests/node/node_modules (scripts/deps.sh test).
set -euo pipefail
server=$1 node_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium missing: run scripts/deps.sh test"; exit 1; }
[ -d "$here/../node/node_modules/playwright-core" ] ||
    { echo "FAIL: playwright-core missing: run scripts/deps.sh test"; exit 1; }
dir=$(mktemp -d /tmp/wm-cluster.XXXXXX)
stop_all() {
    for n in a b; do "$node_bin" stop --pid-file="$dir/$n.pid" >/dev/null 2>&1 || true; done
    "$server" stop --pid-file="$dir/ch.pid" >/dev/null 2>&1 || true
}
cleanup() {
    stop_all
    rm -rf "$dir"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run_case SCHEME [--tls CERT KEY]: a channel-server and two nodes serving
# SCHEME (http or https), then the browsers.
run_case() {
    local scheme=$1 spki=
    shift
    local cp curl_tls=() node_env=()
    if [ "$scheme" = https ]; then
        curl_tls=(--cacert "$dir/ca.crt")
        node_env=(NODE_EXTRA_CA_CERTS="$dir/ca.crt")
    fi
    cp=$(free_port)
    "$server" --listen "127.0.0.1:$cp" --data "$dir/ch.db" start -d --pid-file="$dir/ch.pid" \
        --log-file="$dir/ch.log" >/dev/null
    declare -A http
    for n in a b; do
        http[$n]=$(free_port)
        "$node_bin" --node $n --http "http://127.0.0.1:${http[$n]}" \
            --ws "websocket://127.0.0.1:$(free_port)" --channel "127.0.0.1:$cp" "$@" \
            start -d --pid-file="$dir/$n.pid" --log-file="$dir/$n.log" >/dev/null
    done
    for n in a b; do
        local url="$scheme://localhost:${http[$n]}/"
        for _ in $(seq 100); do curl -sf "${curl_tls[@]}" -o /dev/null "$url" && break; sleep 0.05; done
        curl -sf "${curl_tls[@]}" -o /dev/null "$url" ||
            { echo "FAIL: node $n serves no page on $scheme"; cat "$dir/$n.log"; exit 1; }
    done
    local b="$scheme://localhost:${http[b]}"
    # The push API answers once the channel-server took the push.
    curl -sf "${curl_tls[@]}" -X POST "$b/push?to=all" -d warmup | grep -q '"ok":true' ||
        { echo "FAIL: the push API ($scheme)"; cat "$dir/b.log"; exit 1; }
    [ "$(curl -s "${curl_tls[@]}" -o /dev/null -w '%{http_code}' -X POST "$b/push?to=user:a%20b" -d x)" = 400 ] ||
        { echo "FAIL: a bad 'to' was accepted"; exit 1; }
    if [ "$scheme" = https ]; then
        spki=$(openssl x509 -in "$dir/server.crt" -pubkey -noout |
            openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
    fi
    if ! env "${node_env[@]}" node "$here/cluster_test.js" \
        "$scheme://localhost:${http[a]}/" "$b/" $spki; then
        for f in ch a b; do echo "---- $f.log"; cat "$dir/$f.log"; done
        exit 1
    fi
    stop_all
    rm -f "$dir/ch.db"*
}

run_case http
"$here/../common/mk_certs.sh" "$dir"
run_case https --tls "$dir/server.crt" "$dir/server.key"
