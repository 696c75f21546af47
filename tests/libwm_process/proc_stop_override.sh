#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# stop during stop -g: a graceful stop waits for an open connection (stop
# timeout 20 s); a plain `stop` given meanwhile must stop everything at once,
# as an operator expects and the master's code promises ("a second, plain
# stop during a graceful one: stop now"). The master must be gone within 2 s.
# Usage: proc_stop_override.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
FIXARGS=(--text "text://127.0.0.1:$PORT")
start_master --stop-timeout=20
wait_ready 1 >/dev/null
hold H "$PORT"
ask_fd "$H" one >/dev/null || fail "no answer"
bg "$T/stopg.out" "$FIX" "${FIXARGS[@]}" stop -g --pid-file="$PIDFILE"
sleep 0.5
alive "$MASTER" || fail "the master exited while a connection was open"
t0=$(now_ms)
bg "$T/stop.out" "$FIX" "${FIXARGS[@]}" stop --pid-file="$PIDFILE"
if ! wait_gone "$MASTER" 2 >/dev/null; then
    fail "a plain stop during stop -g (stop timeout 20 s) did not stop the master within 2 s" \
        "(worker $(children_of "$MASTER") still running; the CLI said: $(cat "$T/stop.out"))"
fi
took=$(($(now_ms) - t0))
unhold "$H"
wait "$MASTER" || fail "the master exited with status $?"
note "a plain stop during stop -g (stop timeout 20 s) took $took ms"

pass "a plain stop during stop -g stopped at once"
