#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static files against a real client: curl downloads a 5 MiB file whole
# (sha256) and in ranges, revalidates with If-Modified-Since (-z) and
# If-None-Match (304), asks HEAD, and every path escape (sent with
# --path-as-is, so curl does not squash the dots itself) is refused. The
# server is wm_http_static_tests --serve PORTFILE ROOT other.test=DIR.
# Usage: curl_test.sh PATH/TO/wm_http_static_tests   (exit 77: no curl, SKIP)
set -euo pipefail
bin=$1
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
dir=$(mktemp -d /tmp/wm-static-curl.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/www/sub" "$dir/www/empty" "$dir/other"
echo '<h1>home</h1>' >"$dir/www/index.html"
echo '<h1>other</h1>' >"$dir/other/index.html"
printf '0123456789' >"$dir/www/ten.txt"
echo 'secret' >"$dir/secret.txt"
head -c 5242880 /dev/urandom >"$dir/www/big.bin"
ln -s /etc "$dir/www/etc_link"
ln -s ../secret.txt "$dir/www/secret_link"
touch -d '2001-02-03 04:05:06 UTC' "$dir/www/ten.txt"

"$bin" --serve "$dir/port" "$dir/www" "other.test=$dir/other" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || { echo "FAIL: the server did not start"; cat "$dir/server.log"; exit 1; }
base="http://127.0.0.1:$(cat "$dir/port")"
fail() { echo "FAIL: $*"; exit 1; }
code() { curl -s --path-as-is -o /dev/null -w '%{http_code}' "$@"; }

# The 5 MiB file, byte for byte.
curl -sS "$base/big.bin" -o "$dir/big.got"
[ "$(sha256sum <"$dir/big.got")" = "$(sha256sum <"$dir/www/big.bin")" ] || fail "big file differs"
echo "ok   5 MiB file (sha256)"

# Headers, index, HEAD.
curl -sS -D "$dir/h" "$base/" -o "$dir/index.got"
cmp "$dir/index.got" "$dir/www/index.html" || fail "index"
grep -qi '^Content-Type: text/html; charset=utf-8' "$dir/h" || fail "index type"
curl -sS -I "$base/ten.txt" >"$dir/head"
grep -qi '^Content-Length: 10' "$dir/head" || fail "HEAD length"
grep -qi '^Last-Modified: Sat, 03 Feb 2001 04:05:06 GMT' "$dir/head" || fail "Last-Modified"
echo "ok   index, types, HEAD"

# 304: by date (curl -z) and by ETag.
[ "$(code -z 'Sat, 03 Feb 2001 04:05:06 GMT' "$base/ten.txt")" = 304 ] || fail "If-Modified-Since"
[ "$(code -z 'Fri, 02 Feb 2001 04:05:06 GMT' "$base/ten.txt")" = 200 ] || fail "older date"
etag=$(grep -i '^ETag:' "$dir/head" | cut -d' ' -f2 | tr -d '\r')
[ "$(code -H "If-None-Match: $etag" "$base/ten.txt")" = 304 ] || fail "If-None-Match"
echo "ok   304 by date and by ETag"

# Ranges.
[ "$(curl -sS -r 2-4 "$base/ten.txt")" = 234 ] || fail "range a-b"
[ "$(curl -sS -r 7- "$base/ten.txt")" = 789 ] || fail "range a-"
[ "$(curl -sS -r -2 "$base/ten.txt")" = 89 ] || fail "range -n"
[ "$(code -r 10-20 "$base/ten.txt")" = 416 ] || fail "range past the end"
curl -sS -r 1048576- "$base/big.bin" -o "$dir/tail.got"
cmp "$dir/tail.got" <(tail -c +1048577 "$dir/www/big.bin") || fail "big range"
echo "ok   ranges and 416"

# Statuses and escapes.
[ "$(code "$base/nope")" = 404 ] || fail "404"
[ "$(code "$base/empty/")" = 403 ] || fail "403 for a folder without index"
for p in /../etc/passwd /%2e%2e/%2e%2e/etc/passwd /a/%2E%2E/%2E%2E/x /..%2f..%2fetc/passwd \
    /etc_link/passwd /secret_link; do
    c=$(code "$base$p")
    case $c in 400 | 403) ;; *) fail "$p answered $c" ;; esac
    curl -s --path-as-is "$base$p" | grep -q -e 'root:' -e secret && fail "$p leaked"
done
echo "ok   404, 403 and every escape refused"

# Host-based roots.
[ "$(curl -sS -H 'Host: other.test' "$base/")" = '<h1>other</h1>' ] || fail "host root"
echo "ok   host roots"
