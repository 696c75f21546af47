#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sessions against a real client: curl with cookie jars on the counter page
# of wm_http_session_tests --serve (/count adds one to the session's n,
# /peek shows it, /logout destroys the session). The counter climbs across
# requests, a second jar has its own, forged and malformed cookies get a
# fresh id, logout expires the cookie, and with the file store the session
# survives a restart of the server process (killed by pid); with the memory
# store it does not.
# Usage: curl_test.sh PATH/TO/wm_http_session_tests   (exit 77: no curl, SKIP)
set -euo pipefail
bin=$1
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
dir=$(mktemp -d /tmp/wm-sess-curl.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# start KIND: runs the server with a store of KIND (mem, file) on a port it
# picks itself, and sets $base.
start() {
    rm -f "$dir/port"
    "$bin" --serve "$dir/port" "$1" "$dir/sessions" 2>>"$dir/server.log" &
    pid=$!
    for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
    [ -s "$dir/port" ] || { cat "$dir/server.log"; fail "the server did not start"; }
    base="http://127.0.0.1:$(cat "$dir/port")"
}
stop() {
    kill "$pid"
    wait "$pid" || true
    pid=
}

# get JAR PATH [curl args...]: the body, with the jar read and written.
get() {
    local jar=$1 path=$2
    shift 2
    curl -sS -b "$dir/$jar" -c "$dir/$jar" "$@" "$base$path"
}
# The session cookie's value in a jar ("" when none).
jar_id() { awk '$6 == "WMSESSID" { print $7 }' "$dir/$1" 2>/dev/null || true; }
expect() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }

start file

# The counter climbs in one jar; a second jar counts on its own.
expect "$(get a /count)" "n=1" "first request"
id_a=$(jar_id a)
[[ "$id_a" =~ ^[A-Za-z0-9_-]{32}$ ]] || fail "session id '$id_a' is not 32 base64url characters"
expect "$(get a /count)" "n=2" "second request"
expect "$(get a /count)" "n=3" "third request"
expect "$(jar_id a)" "$id_a" "the id changed without a reason"
expect "$(get b /count)" "n=1" "second jar"
[ "$(jar_id b)" != "$id_a" ] || fail "two jars share an id"
expect "$(get a /count)" "n=4" "first jar after the second"
echo "ok   counter per cookie jar"

# Forged (well formed, never issued) and malformed cookies: a fresh id.
for forged in AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ../../../../etc/passwd "$id_a-x"; do
    body=$(curl -sS -D "$dir/h" -b "WMSESSID=$forged" "$base/count")
    expect "$body" "n=1" "forged cookie '$forged'"
    new=$(sed -n 's/^Set-Cookie: WMSESSID=\([^;]*\);.*/\1/p' "$dir/h" | tr -d '\r')
    [[ "$new" =~ ^[A-Za-z0-9_-]{32}$ ]] || fail "forged '$forged': no fresh id ($(cat "$dir/h"))"
    [ "$new" != "$forged" ] || fail "the forged id was adopted"
done
ls -A "$dir/sessions" | grep -qv '^sess_[A-Za-z0-9_-]\{32\}$' && fail "a file other than sess_<id>"
[ -z "$(find "$dir" -maxdepth 1 -newer "$dir/port" -name 'sess_*')" ] || fail "a file outside"
echo "ok   forged and malformed cookies get a fresh id"

# Logout expires the cookie; the next visit starts over.
curl -sS -D "$dir/h" -b "$dir/a" -c "$dir/a" "$base/logout" >/dev/null
grep -qi '^Set-Cookie: WMSESSID=; Max-Age=0' "$dir/h" || fail "logout: $(cat "$dir/h")"
expect "$(jar_id a)" "" "the jar kept the cookie after logout"
[ ! -e "$dir/sessions/sess_$id_a" ] || fail "logout left the session file"
expect "$(curl -sS -b "WMSESSID=$id_a" "$base/peek")" "n=none" "the old id after logout"
expect "$(get a /count)" "n=1" "after logout"
echo "ok   logout"

# The file store survives a restart of the process.
id_b=$(jar_id b)
expect "$(get b /count)" "n=2" "before the restart"
stop
start file
expect "$(get b /peek)" "n=2" "after the restart"
expect "$(get b /count)" "n=3" "counting after the restart"
expect "$(jar_id b)" "$id_b" "the id after the restart"
echo "ok   file store survives a restart"
stop

# The memory store does not: the old cookie gets a fresh session.
start mem
expect "$(get c /count)" "n=1" "memory store"
expect "$(get c /count)" "n=2" "memory store, again"
id_c=$(jar_id c)
stop
start mem
expect "$(get c /count)" "n=1" "memory store after a restart"
[ "$(jar_id c)" != "$id_c" ] || fail "the memory store kept an id across a restart"
echo "ok   memory store starts over after a restart"
stop

# Two worker processes under a master share the file store: the counter
# climbs whichever process answers (the X-Pid header says which).
port=
while [ -z "$port" ]; do
    p=$((20000 + RANDOM % 30000))
    ss -Htan "sport = :$p" | grep -q . || port=$p
done
"$bin" --serve-all "http://127.0.0.1:$port" file "$dir/sessions" start \
    --pid-file="$dir/master.pid" >>"$dir/server.log" 2>&1 &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -s -o /dev/null "$base/peek" && break; sleep 0.05; done
declare -A pids=()
for i in $(seq 40); do
    body=$(curl -sS -D "$dir/h" -b "$dir/d" -c "$dir/d" "$base/count")
    expect "$body" "n=$i" "request $i over two processes"
    pids[$(sed -n 's/^X-Pid: \([0-9]*\).*/\1/p' "$dir/h")]=1
done
[ "${#pids[@]}" -eq 2 ] || fail "40 answers came from ${#pids[@]} process(es), not 2"
echo "ok   file store shared by 2 worker processes (40 requests)"
stop

grep -E ' (ERROR|WARN) ' "$dir/server.log" && fail "the server logged problems"
echo "ok   no warnings in the server log"
