#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# new connections during stop -g: while a graceful stop waits for an open
# connection, a client that connects anew must learn at once that the
# server is going away — be refused (the listener closed, so it can try
# another server) or be served — and not be left waiting for an answer that
# never comes, to be reset when the master finally exits. The test gives it
# 1 s and prints what happened.
# Usage: proc_stopg_new.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
FIXARGS=(--text "text://127.0.0.1:$PORT")
start_master --stop-timeout=5
wait_ready 1 >/dev/null
hold H "$PORT"
ask_fd "$H" one >/dev/null || fail "no answer"
bg "$T/stopg.out" "$FIX" "${FIXARGS[@]}" stop -g --pid-file="$PIDFILE"
sleep 0.5
alive "$MASTER" || fail "the master exited while a connection was open"
t0=$(now_ms)
set +e
out=$(timeout 5 "$PYTHON" - "$PORT" 2>&1 <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
except ConnectionRefusedError:
    print("refused"); sys.exit(0)
except OSError as e:
    print(f"connect failed: {e}"); sys.exit(0)
s.sendall(b"new\n")
try:
    data = s.recv(100)
    print(f"answered {data!r}" if data else "closed without an answer")
except socket.timeout:
    print("connected, but no answer within 1 s"); sys.exit(1)
except OSError as e:
    print(f"{type(e).__name__}: {e}")
PY
)
rc=$?
set -e
note "a new connection during stop -g: $out (after $(($(now_ms) - t0)) ms)"
unhold "$H"
wait_gone "$MASTER" 10 >/dev/null || fail "the master did not stop"
wait "$MASTER" || fail "the master exited with status $?"
[ "$rc" = 0 ] || fail "a new connection during stop -g was accepted and left hanging: $out"
pass "a new connection during stop -g: $out"
