#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The http:// protocol against a real client: curl reuses a keep-alive
# connection across two URLs, uploads a chunked body, and sends a large body
# after waiting for "100 Continue". The server is wm_http_server_tests
# --serve (its /echo path answers with the request body).
# Usage: curl_test.sh PATH/TO/wm_http_server_tests   (exit 77: no curl, SKIP)
set -euo pipefail
bin=$1
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
dir=$(mktemp -d /tmp/wm-http-curl.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
"$bin" --serve "$dir/port" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || { echo "FAIL: the server did not start"; cat "$dir/server.log"; exit 1; }
base="http://127.0.0.1:$(cat "$dir/port")"
fail() { echo "FAIL: $*"; exit 1; }

# Keep-alive: one connection for both URLs.
curl -sS -v "$base/one?x=1" "$base/two" >"$dir/ka.out" 2>"$dir/ka.err"
grep -q 'P=/one Q=x=1' "$dir/ka.out" || fail "first answer: $(cat "$dir/ka.out")"
grep -q 'P=/two' "$dir/ka.out" || fail "second answer"
grep -qi 're-using existing connection' "$dir/ka.err" || fail "curl did not reuse the connection"
[ "$(grep -c 'Connected to' "$dir/ka.err")" -eq 1 ] || fail "curl connected more than once"
echo "ok   keep-alive reuse"

# Chunked upload.
head -c 300000 /dev/urandom >"$dir/up.bin"
curl -sS -H 'Transfer-Encoding: chunked' --data-binary @"$dir/up.bin" "$base/echo" \
    -o "$dir/up.echo"
cmp "$dir/up.bin" "$dir/up.echo" || fail "chunked upload came back different"
echo "ok   chunked upload"

# Expect: 100-continue with a large body: the 100 must come (curl would
# otherwise send after its 1 s timeout), then the whole body.
head -c 3000000 /dev/urandom >"$dir/big.bin"
start=$(date +%s%N)
curl -sS -v -H 'Expect: 100-continue' --data-binary @"$dir/big.bin" "$base/echo" \
    -o "$dir/big.echo" 2>"$dir/big.err"
ms=$((($(date +%s%N) - start) / 1000000))
grep -q '< HTTP/1.1 100 Continue' "$dir/big.err" || fail "no 100 Continue: $(cat "$dir/big.err")"
cmp "$dir/big.bin" "$dir/big.echo" || fail "the large body came back different"
[ "$ms" -lt 900 ] || fail "took ${ms} ms: curl waited for its Expect timeout"
echo "ok   100-continue with a 3 MB body (${ms} ms)"

# HTTP/1.0 through curl: answered and closed.
curl -sS -0 -v "$base/old" >"$dir/old.out" 2>"$dir/old.err"
grep -q 'V=10' "$dir/old.out" || fail "HTTP/1.0 answer"
grep -qi '< Connection: close' "$dir/old.err" || fail "HTTP/1.0 without Connection: close"
echo "ok   HTTP/1.0"
