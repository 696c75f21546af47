#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# globaldata-cli against a real globaldata-server on a free loopback port:
# every command, JSON in and out, exit codes, a dead server.
set -euo pipefail
server=$1 cli=$2
dir=$(mktemp -d /tmp/wm-gdcli.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { "$server" stop --pid-file="$dir/gd.pid" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"$server" --listen "127.0.0.1:$port" --data "$dir/gd.db" start -d --pid-file="$dir/gd.pid" \
  --log-file="$dir/gd.log" >/dev/null
gd() { "$cli" --server "127.0.0.1:$port" "$@"; }
for _ in $(seq 100); do gd stats >/dev/null 2>&1 && break; sleep 0.05; done
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { local want=$1; shift; local got; got=$("$@") || fail "$* exited $?"; [[ $got == "$want" ]] || fail "$*: got '$got', want '$want'"; }

gd set user '{"name":"Zoë","tags":["a","b\"c"],"n":-3,"f":0.5,"ok":true,"none":null}'
expect '{"name":"Zoë","tags":["a","b\"c"],"n":-3,"f":0.5,"ok":true,"none":null}' gd get user
gd set n 5 --ttl 100
expect 15 gd incr n 10
expect 16 gd incr n
ttl=$(gd ttl n); [[ $ttl =~ ^(99|100)\. ]] || fail "ttl $ttl"
expect null gd ttl user
expect $'n\nuser' gd keys
expect user gd keys us
expect true gd delete user
expect false gd delete user
set +e
gd get user 2>/dev/null; rc=$?
[[ $rc == 1 ]] || fail "get of a missing key exited $rc"
gd set bad '{oops' 2>/dev/null; rc=$?
[[ $rc == 2 ]] || fail "bad JSON exited $rc"
gd set s '"text"' && gd incr s 2>/dev/null; rc=$?
[[ $rc == 1 ]] || fail "incr of a string exited $rc"
"$cli" --server 127.0.0.1:1 get x 2>/dev/null; rc=$?
[[ $rc == 3 ]] || fail "a dead server exited $rc"
set -e
gd stats | grep -q '"keys":2' || fail "stats"
"$cli" --help | grep -q -- '--server' || fail "--help"
echo ok
