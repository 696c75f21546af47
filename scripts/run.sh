#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command: installs what the build needs, builds
# everything in Release and runs the cluster-push demo on loopback — one
# channel-server and two app-server nodes (examples/cluster-push/) — then
# prints the page's URL and a curl line that pushes to it. Ctrl-C stops all
# three (each is a wm program started with `start -d`, stopped by its pid
# file).
#
# Usage: scripts/run.sh [--help]
# Ports (127.0.0.1 only: a demo should not open ports to the network):
#   channel-server 2206; node a: page + push API 8090, WebSocket 8091;
#   node b: 8092 and 8093. Override with WM_DEMO_PORT_BASE=N (N..N+4).
set -euo pipefail

cd "$(dirname "$0")/.."
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
    sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
bash scripts/deps.sh build

# build-release/ is shared with scripts/test.sh (its install test); keep the
# arguments the same there so neither run reconfigures the other's build.
cmake -S . -B build-release -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release -DWM_WERROR=ON \
    >/dev/null
cmake --build build-release -j "$(nproc)"

bin=build-release/bin
base=${WM_DEMO_PORT_BASE:-}
ch_port=${base:-2206}
a_http=$((${base:-8089} + 1)) a_ws=$((${base:-8089} + 2))
b_http=$((${base:-8089} + 3)) b_ws=$((${base:-8089} + 4))
run=$(mktemp -d /tmp/wm-demo.XXXXXX)

sleeper=
stop_all() {
    trap - INT TERM EXIT
    [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true
    echo
    echo "stopping the nodes and channel-server"
    for n in a b; do "$bin/example-cluster-push" stop --pid-file="$run/$n.pid" >/dev/null 2>&1 || true; done
    "$bin/channel-server" stop --pid-file="$run/channel.pid" >/dev/null 2>&1 || true
    rm -rf "$run"
    exit 0
}
trap stop_all INT TERM EXIT

"$bin/channel-server" --listen "127.0.0.1:$ch_port" --data "$run/channel.db" \
    start -d --pid-file="$run/channel.pid" --log-file="$run/channel.log" >/dev/null
"$bin/example-cluster-push" --node a --http "http://127.0.0.1:$a_http" --ws "websocket://127.0.0.1:$a_ws" \
    --channel "127.0.0.1:$ch_port" start -d --pid-file="$run/a.pid" --log-file="$run/a.log" >/dev/null
"$bin/example-cluster-push" --node b --http "http://127.0.0.1:$b_http" --ws "websocket://127.0.0.1:$b_ws" \
    --channel "127.0.0.1:$ch_port" start -d --pid-file="$run/b.pid" --log-file="$run/b.log" >/dev/null

cat <<EOT

The cluster-push demo runs on 127.0.0.1 (logs in $run):
  channel-server  $ch_port
  node a          page + push API http://127.0.0.1:$a_http/   WebSocket $a_ws (2 processes)
  node b          page + push API http://127.0.0.1:$b_http/   WebSocket $b_ws (2 processes)

Open http://127.0.0.1:$a_http/ in a browser, type alice and press Bind. Then push
to her through the other node:
  curl -X POST 'http://127.0.0.1:$b_http/push?to=user:alice' -d 'hello alice'
  curl -X POST 'http://127.0.0.1:$b_http/push?to=all' -d 'hello everyone'
Join a group (g1) on pages of both nodes and send to it from either page.
Watch the channel from another shell:
  $bin/channel-cli --server 127.0.0.1:$ch_port subscribe all 'u.*' 'g.*'
Ctrl-C stops everything.
EOT
# Wait in the background so that a signal runs the trap at once (bash
# defers traps until a foreground command ends).
while :; do
    sleep 3600 &
    sleeper=$!
    wait "$sleeper" || true
done
