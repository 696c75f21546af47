#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# channel-cli against a real channel-server on a free loopback port:
# publish to a running `subscribe` (glob included), enqueue to a running
# `watch` (acknowledged: not delivered again), --auth, exit codes, --help.
set -euo pipefail
server=$1 cli=$2
dir=$(mktemp -d /tmp/wm-chcli.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$server" stop --pid-file="$dir/ch.pid" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
start_server() {
  "$server" --listen "127.0.0.1:$port" --data "$dir/ch.db" "$@" start -d --pid-file="$dir/ch.pid" \
    --log-file="$dir/ch.log" >/dev/null
}
start_server
ch() { "$cli" --server "127.0.0.1:$port" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
for _ in $(seq 100); do ch publish ping x >/dev/null 2>&1 && break; sleep 0.05; done

# subscribe: wait until the server counts it, then publish.
"$cli" --server "127.0.0.1:$port" subscribe news 'sport.*' >"$dir/sub.out" &
pids+=($!)
for _ in $(seq 100); do [[ $(ch publish news warmup) == 1 ]] && break; sleep 0.05; done
[[ $(ch publish news 'hello world') == 1 ]] || fail "publish receivers"
ch publish sport.ski fast >/dev/null
ch publish nobody x >/dev/null
for _ in $(seq 100); do grep -q 'sport.ski' "$dir/sub.out" && break; sleep 0.05; done
grep -v warmup "$dir/sub.out" >"$dir/sub.clean"
printf 'news\thello world\nsport.ski\tfast\n' | diff - "$dir/sub.clean" || fail "subscribe output"

# enqueue before anyone watches; watch prints and acknowledges.
id=$(ch enqueue jobs job-1)
[[ $id =~ ^[0-9]+$ ]] || fail "enqueue printed '$id'"
"$cli" --server "127.0.0.1:$port" watch jobs >"$dir/watch.out" &
wpid=$!
pids+=($wpid)
for _ in $(seq 100); do grep -q job-1 "$dir/watch.out" && break; sleep 0.05; done
printf 'jobs\t%s\tjob-1\n' "$id" | diff - "$dir/watch.out" || fail "watch output"
sleep 0.2 # the ack reaches the server
kill -INT $wpid
wait $wpid || fail "watch did not exit 0 on Ctrl-C"
"$cli" --server "127.0.0.1:$port" watch jobs >"$dir/watch2.out" &
pids+=($!)
sleep 0.5
[[ ! -s $dir/watch2.out ]] || fail "an acknowledged message came again"

# exit codes, auth
set +e
"$cli" --server 127.0.0.1:1 publish a b 2>/dev/null; rc=$?
[[ $rc == 3 ]] || fail "a dead server exited $rc"
ch publish '' b 2>/dev/null; rc=$?
[[ $rc != 0 ]] || fail "an empty name was accepted"
ch frobnicate 2>/dev/null; rc=$?
[[ $rc == 2 ]] || fail "a bad command exited $rc"
"$server" stop --pid-file="$dir/ch.pid" >/dev/null
start_server --auth s3cret
for _ in $(seq 100); do ch --auth s3cret publish x y >/dev/null 2>&1 && break; sleep 0.05; done
ch publish x y 2>/dev/null; rc=$?
[[ $rc == 1 ]] || fail "publish without auth exited $rc"
set -e
[[ $(ch --auth s3cret publish x y) == 0 ]] || fail "publish with auth"
"$cli" --help | grep -q -- '--server' || fail "--help"
echo ok
