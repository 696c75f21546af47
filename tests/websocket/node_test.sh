#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest's websocket_node: node's `ws` against ours, both ways, over ws and
# wss (a CA made at test time, tests/common/mk_certs.sh):
#   node_client.js -> wm_ws_tests --serve          (all close paths)
#   node_client.js -> example-ws-echo --echo-only  (the example)
#   wm_ws_tests --client -> node_server.js
# Servers start on ports chosen at run time and are stopped by pid. No node
# or no tests/node/node_modules/ws means SKIP (77), never PASS.
# Usage: node_test.sh WM_WS_TESTS EXAMPLE_WS_ECHO
set -euo pipefail
bin=$1
example=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "SKIP: no node"; exit 77; }
[ -d "$here/../node/node_modules/ws" ] || { echo "SKIP: no tests/node/node_modules/ws (scripts/deps.sh test)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl CLI"; exit 77; }
d=$(mktemp -d "${TMPDIR:-/tmp}/wm-ws-node.XXXXXX")
pids=()
cleanup() {
    # `|| true`: a killed process's wait fails, and set -e would end the
    # cleanup there, leaving the other servers running.
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$d"
}
trap cleanup EXIT
"$here/../common/mk_certs.sh" "$d"
fail() { echo "FAIL: $*"; for f in "$d"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

# wait_file FILE: until it holds a line (a port).
wait_file() {
    for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
    fail "no port in $1"
}

for mode in ws wss; do
    echo "== node client -> our server ($mode)"
    tls=() ca=()
    [ $mode = wss ] && tls=("$d/server.crt" "$d/server.key") && ca=(--ca "$d/ca.crt")
    "$bin" --serve "$d/port.$mode" "${tls[@]}" >"$d/serve.$mode.log" 2>&1 &
    pids+=($!)
    wait_file "$d/port.$mode"
    node "$here/node_client.js" "$mode://localhost:$(cat "$d/port.$mode")/" "${ca[@]}" ||
        fail "node client against our $mode server"

    echo "== our client -> node server ($mode)"
    ntls=() ca=()
    [ $mode = wss ] && ntls=(--tls "$d/server.crt" "$d/server.key") && ca=("$d/ca.crt")
    node "$here/node_server.js" "${ntls[@]}" >"$d/nport.$mode" 2>"$d/node_server.$mode.log" &
    pids+=($!)
    wait_file "$d/nport.$mode"
    "$bin" --client "$mode://localhost:$(cat "$d/nport.$mode")/chat?x=1" "${ca[@]}" ||
        fail "our client against the node $mode server"
done

echo "== node client -> example-ws-echo (ws and wss)"
"$example" --help | grep -q "Echoes every WebSocket message" || fail "example --help"
port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
p1=$(port)
"$example" --listen "websocket://127.0.0.1:$p1" start --pid-file="$d/ex1.pid" >"$d/example.ws.log" 2>&1 &
pids+=($!)
p2=$(port)
"$example" --listen "websocket+tls://127.0.0.1:$p2" --tls "$d/server.crt" "$d/server.key" \
    start --pid-file="$d/ex2.pid" >"$d/example.wss.log" 2>&1 &
pids+=($!)
for p in $p1 $p2; do
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.05; done
done
node "$here/node_client.js" "ws://127.0.0.1:$p1/" --echo-only || fail "node client against example-ws-echo"
node "$here/node_client.js" "wss://localhost:$p2/" --ca "$d/ca.crt" --echo-only ||
    fail "node client against example-ws-echo over wss"
echo "PASS"
