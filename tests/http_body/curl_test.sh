#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The request-body helpers against curl, on a real worker
# (wm_http_body_server): a 20 MiB multipart upload saved intact, fields
# with repeated names, --data-urlencode, a JSON body written back, query
# parameters, and every error answered with its status and a closed
# connection: 400 (bad JSON, a truncated multipart body, a bad escape),
# 413 (a file or a field count over the limit), 415 (not a form, not
# JSON). No upload file may be left in the temporary folder.
# Usage: curl_test.sh PATH/TO/wm_http_body_server   (exit 77: no curl, SKIP)
set -euo pipefail
bin=$1
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
dir=$(mktemp -d /tmp/wm-body-curl.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/save" "$dir/save/tmp"
"$bin" "$dir/port" "$dir/save" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || { echo "FAIL: the server did not start"; cat "$dir/server.log"; exit 1; }
base="http://127.0.0.1:$(cat "$dir/port")"
fail() { echo "FAIL: $*"; exit 1; }
passed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
no_leftovers() {
    [ -z "$(ls -A "$dir/save/tmp")" ] || fail "upload files left behind: $(ls "$dir/save/tmp")"
}

# expect STATUS CLOSE(yes|no) NAME CURL-ARGS...: the status, and whether the
# answer carried Connection: close.
expect() {
    local status=$1 close=$2 name=$3
    shift 3
    local got
    got=$(curl -sS -v -o "$dir/out" -w '%{http_code}' "$@" 2>"$dir/err") || true
    [ "$got" = "$status" ] || fail "$name: status $got, want $status: $(cat "$dir/out")"
    if [ "$close" = yes ]; then
        grep -qi '< Connection: close' "$dir/err" || fail "$name: no Connection: close"
    fi
}

# A 20 MiB upload with fields around it: the saved file is byte-identical.
head -c $((20 * 1024 * 1024)) /dev/urandom >"$dir/big.bin"
start=$(date +%s%N)
expect 200 no "big upload" -F title=hello -F tag=a -F tag=b \
    -F "upload=@$dir/big.bin;filename=big file.bin;type=application/x-test" "$base/form"
ms=$((($(date +%s%N) - start) / 1000000))
cat >"$dir/want" <<OUT
field title=hello
field tag=a
field tag=b
file upload big file.bin application/x-test 20971520
OUT
diff "$dir/want" "$dir/out" || fail "big upload: answer differs"
[ "$(sha256sum <"$dir/big.bin")" = "$(sha256sum <"$dir/save/saved-upload")" ] ||
    fail "big upload: the saved file differs"
[ "$(stat -c %a "$dir/save/saved-upload")" = 600 ] || fail "big upload: mode is not 0600"
no_leftovers
ok "20 MiB multipart upload saved intact (${ms} ms)"

# Two files and a field from a file's contents (<), empty file.
printf 'small' >"$dir/small.txt"
: >"$dir/empty.txt"
expect 200 no "two files" -F "a=@$dir/small.txt" -F "b=@$dir/empty.txt" -F "c=<$dir/small.txt" \
    "$base/form"
grep -qx 'field c=small' "$dir/out" || fail "two files: $(cat "$dir/out")"
grep -qx 'file a small.txt text/plain 5' "$dir/out" || fail "two files: $(cat "$dir/out")"
grep -qx 'file b empty.txt text/plain 0' "$dir/out" || fail "two files: $(cat "$dir/out")"
cmp "$dir/small.txt" "$dir/save/saved-a" || fail "two files: saved a differs"
no_leftovers
ok "two files and a field read from a file"

# --data-urlencode: spaces, '&', '=', '+', UTF-8.
expect 200 no "urlencoded" --data-urlencode 'msg=a b&c=d+é' --data-urlencode 'x=1+1=2' \
    -d 'plain=y+z' "$base/form"
printf 'field msg=a b&c=d+é\nfield x=1+1=2\nfield plain=y z\n' >"$dir/want"
diff "$dir/want" "$dir/out" || fail "urlencoded: answer differs"
ok "--data-urlencode"

# JSON written back, compact, same values.
expect 200 no "json" -H 'Content-Type: application/json; charset=utf-8' \
    -d '{ "a": [1, 2.5, "x\u00e9", true, null], "b": {"c": -0.0, "d": 1e2} }' "$base/json"
[ "$(cat "$dir/out")" = '{"a":[1,2.5,"xé",true,null],"b":{"c":-0.0,"d":100.0}}' ] ||
    fail "json: $(cat "$dir/out")"
expect 200 no "json+suffix" -H 'Content-Type: application/vnd.api+json' -d '[]' "$base/json"
ok "JSON body written back"

# Query parameters.
expect 200 no "query" "$base/query?y=2&x=a+b%21&x=second"
[ "$(cat "$dir/out")" = 'x=a b! count=3' ] || fail "query: $(cat "$dir/out")"
expect 200 no "query absent" "$base/query?y=1"
[ "$(cat "$dir/out")" = 'x=(none) count=1' ] || fail "query absent: $(cat "$dir/out")"
expect 400 yes "bad query" "$base/query?x=%zz"
ok "query parameters"

# Errors: each answered with its status, a reason, and a close.
expect 400 yes "bad json" -H 'Content-Type: application/json' -d '{"a":[1,]}' "$base/json"
grep -q 'invalid JSON at byte 8' "$dir/out" || fail "bad json reason: $(cat "$dir/out")"
expect 400 yes "deep json" -H 'Content-Type: application/json' \
    -d "$(printf '%0.s[' $(seq 100))" "$base/json"
expect 415 yes "not json" -H 'Content-Type: text/plain' -d '{}' "$base/json"
expect 415 yes "not a form" -H 'Content-Type: text/plain' -d 'a=1' "$base/form"
expect 400 yes "bad escape" -d 'a=%4' "$base/form"
printf -- '--xx\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nno end' \
    >"$dir/trunc.body"
expect 400 yes "truncated multipart" -H 'Content-Type: multipart/form-data; boundary=xx' \
    --data-binary @"$dir/trunc.body" "$base/form"
grep -q 'no closing boundary' "$dir/out" || fail "truncated reason: $(cat "$dir/out")"
expect 400 yes "no boundary" -H 'Content-Type: multipart/form-data' -d 'x' "$base/form"
head -c 2048 /dev/urandom >"$dir/2k.bin"
expect 413 yes "file too big" -F "up=@$dir/2k.bin" "$base/small"
grep -q 'larger than 1024 bytes' "$dir/out" || fail "413 reason: $(cat "$dir/out")"
expect 413 yes "two files" -F "a=@$dir/small.txt" -F "b=@$dir/small.txt" "$base/small"
expect 413 yes "four fields" -F a=1 -F b=2 -F c=3 -F d=4 "$base/small"
expect 413 yes "four urlencoded fields" -d 'a=1&b=2&c=3&d=4' "$base/small"
expect 200 no "within limits" -F a=1 -F "up=@$dir/small.txt" "$base/small"
no_leftovers
ok "400, 413 and 415 answered with a reason and Connection: close"

kill -0 "$pid" || fail "the server died"
echo "$passed passed, 0 failed"
