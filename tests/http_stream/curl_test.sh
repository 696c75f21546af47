#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Streamed answers, SSE and gzip against a real client: curl --compressed
# gets the right bytes and the Content-Encoding header; curl -N reads an
# event stream whose events arrive over time; curl --http1.0 reads a
# stream that ends with the close. The server is wm_http_stream_tests
# --serve (gzip on at level 6).
# Usage: curl_test.sh PATH/TO/wm_http_stream_tests   (exit 77: no curl, SKIP)
set -euo pipefail
bin=$1
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
dir=$(mktemp -d /tmp/wm-http-stream-curl.XXXXXX)
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

# The bytes /text?n=N answers: "wm gzip test line\n" repeated, cut at N.
expected() { python3 -c "import sys; n=int(sys.argv[1]); l=b'wm gzip test line\n'; sys.stdout.buffer.write((l*(n//len(l)+1))[:n])" "$1"; }

# gzip: curl --compressed asks for it and inflates it.
expected 50000 >"$dir/text.want"
curl -sS --compressed -D "$dir/gz.head" -o "$dir/gz.body" "$base/text?n=50000"
grep -qi '^Content-Encoding: gzip' "$dir/gz.head" || fail "no Content-Encoding: $(cat "$dir/gz.head")"
grep -qi '^Vary: Accept-Encoding' "$dir/gz.head" || fail "no Vary"
cmp "$dir/text.want" "$dir/gz.body" || fail "curl --compressed got other bytes"
wire=$(grep -i '^Content-Length:' "$dir/gz.head" | tr -dc 0-9)
[ "$wire" -lt 5000 ] || fail "50000 bytes compressed to $wire"
# Without --compressed: the same bytes, not compressed.
curl -sS -D "$dir/plain.head" -o "$dir/plain.body" "$base/text?n=50000"
! grep -qi '^Content-Encoding' "$dir/plain.head" || fail "gzip without Accept-Encoding"
cmp "$dir/text.want" "$dir/plain.body" || fail "the plain answer differs"
echo "ok   curl --compressed (50000 bytes as $wire)"

# A gzipped stream.
curl -sS --compressed -D "$dir/gzs.head" -o "$dir/gzs.body" "$base/stream?n=5"
grep -qi '^Content-Encoding: gzip' "$dir/gzs.head" || fail "stream without gzip"
grep -qi '^Transfer-Encoding: chunked' "$dir/gzs.head" || fail "stream not chunked"
printf 'piece0\npiece1\npiece2\npiece3\npiece4\n' | cmp - "$dir/gzs.body" || fail "gzipped stream"
echo "ok   curl --compressed on a stream"

# SSE: curl -N prints events as they come; five events 150 ms apart.
# Each line is stamped with bash's own clock (no fork of date per line: on a
# loaded machine the forks made the reader lag and bunch the stamps).
start=${EPOCHREALTIME/./}
curl -sS -N --max-time 10 "$base/ticks?n=5&ms=150" | while IFS= read -r line; do
    printf '%s %s\n' "$(((${EPOCHREALTIME/./} - start) / 1000))" "$line"
done >"$dir/sse.out"
grep -c '^[0-9]* data: piece[0-4]$' "$dir/sse.out" | grep -qx 5 || fail "SSE events: $(cat "$dir/sse.out")"
grep -q '^[0-9]* id: 4$' "$dir/sse.out" || fail "SSE ids"
grep -q '^[0-9]* event: tick$' "$dir/sse.out" || fail "SSE event type"
first=$(grep 'data: piece0' "$dir/sse.out" | cut -d' ' -f1)
last=$(grep 'data: piece4' "$dir/sse.out" | cut -d' ' -f1)
[ $((last - first)) -ge 450 ] || fail "events did not arrive over time: $first ms .. $last ms"
echo "ok   curl -N on an event stream (first event at ${first} ms, last at ${last} ms)"

# HTTP/1.0: no chunks, the close ends the body.
curl -sS --http1.0 -v -o "$dir/old.body" "$base/stream?n=3" 2>"$dir/old.err"
printf 'piece0\npiece1\npiece2\n' | cmp - "$dir/old.body" || fail "HTTP/1.0 stream body"
! grep -qi '< Transfer-Encoding' "$dir/old.err" || fail "chunked for HTTP/1.0"
grep -qi '< Connection: close' "$dir/old.err" || fail "HTTP/1.0 stream without Connection: close"
echo "ok   curl --http1.0 on a stream"
