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
# Nested values, \u escapes (a surrogate pair, NUL), big integers.
gd set deep '{"x":[1,{"y":[true,null,{"z":"\u00eb\ud83d\ude00\n"}]}],"e":{},"a":[[],[[]]]}'
expect '{"x":[1,{"y":[true,null,{"z":"ë😀\n"}]}],"e":{},"a":[[],[[]]]}' gd get deep
gd set esc '"tab\tquote\"slash\/nul\u0000end"'
expect '"tab\tquote\"slash/nul\u0000end"' gd get esc
gd set big '[9223372036854775807,-9223372036854775808,18446744073709551615,18446744073709551616,1.5,1e2]'
expect '[9223372036854775807,-9223372036854775808,18446744073709551615,1.8446744073709552e+19,1.5,100.0]' gd get big
gd set max 9223372036854775806
expect 9223372036854775807 gd incr max
gd delete deep >/dev/null && gd delete esc >/dev/null && gd delete big >/dev/null
gd set n 5 --ttl 100
expect 15 gd incr n 10
expect 16 gd incr n
ttl=$(gd ttl n); [[ $ttl =~ ^(99|100)\. ]] || fail "ttl $ttl"
expect null gd ttl user
expect $'max\nn\nuser' gd keys
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
gd incr max 2>/dev/null; rc=$?
[[ $rc == 1 ]] || fail "an incr past int64 exited $rc"
msg=$(gd set bad '[1,2' 2>&1); rc=$?
[[ $rc == 2 && $msg == *"at byte 4 (expected ',' or ']'"* ]] || fail "bad JSON said '$msg' ($rc)"
gd set bad '"\ud800"' 2>/dev/null; rc=$?
[[ $rc == 2 ]] || fail "a lone surrogate exited $rc"
gd set bad '[1] 2' 2>/dev/null; rc=$?
[[ $rc == 2 ]] || fail "trailing JSON exited $rc"
gd set bad "$(printf '[%.0s' {1..64})$(printf ']%.0s' {1..64})" 2>/dev/null; rc=$?
[[ $rc == 2 ]] || fail "JSON nested 64 deep exited $rc"
gd delete max >/dev/null
"$cli" --server 127.0.0.1:1 get x 2>/dev/null; rc=$?
[[ $rc == 3 ]] || fail "a dead server exited $rc"
set -e
gd stats | grep -q '"keys":2' || fail "stats"
"$cli" --help | grep -q -- '--server' || fail "--help"
echo ok
