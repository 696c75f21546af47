#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# stop -g: a graceful stop waits for open connections.
#  1. With a connection open, `stop -g` has not finished 1.5 s later (the
#     master and the process are alive and the connection still answers);
#     closing the connection lets the master exit at once.
#  2. With --stop-timeout=2 and the connection left open, the stop ends
#     after about 2 s (accepted: 1.5-4 s) and the connection is closed.
#  3. An outgoing connection a process holds (--outgoing, to a sink that
#     never closes) does not hold `stop -g` up.
# (proc_stop_override.sh and proc_stopg_new.sh test what else happens
# during a graceful stop.)
# Usage: proc_stopg.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)

# ---- 1. waits for the open connection, ends when it closes --------------
FIXARGS=(--text "text://127.0.0.1:$PORT")
start_master --stop-timeout=20
wait_ready 1 >/dev/null
hold H "$PORT"
r=$(ask_fd "$H" one) || fail "no answer"
worker=$(cut -d' ' -f2 <<<"$r")
bg "$T/stop1.out" "$FIX" "${FIXARGS[@]}" stop -g --pid-file="$PIDFILE"
cli=$BG
sleep 1.5
alive "$cli" || fail "stop -g returned while a connection was open: $(cat "$T/stop1.out")"
alive "$MASTER" || fail "the master exited while a connection was open"
alive "$worker" || fail "the worker exited while a connection was open"
r=$(ask_fd "$H" two) || fail "the open connection stopped answering during stop -g"
note "1.5 s into stop -g: master, worker $worker and 'stop -g' still running; connection answers '$r'"
t0=$(now_ms)
unhold "$H"
ms=$(wait_gone "$MASTER" 3) || fail "the master did not exit within 3 s of the last close"
wait "$cli" || fail "stop -g exited with status $?: $(cat "$T/stop1.out")"
wait "$MASTER" || fail "the master exited with status $?"
note "closing the connection ended the master after $ms ms (stop -g returned after $(($(now_ms) - t0)) ms)"
[ "$ms" -lt 1000 ] || fail "the master took $ms ms to exit after the last connection closed"

# ---- 2. the stop timeout ends it --------------------------------------------
start_master --stop-timeout=2
wait_ready 1 >/dev/null
hold H "$PORT"
ask_fd "$H" one >/dev/null || fail "no answer"
t0=$(now_ms)
fixture stop -g >"$T/stop2.out" 2>&1 || fail "stop -g failed: $(cat "$T/stop2.out")"
took=$(($(now_ms) - t0))
wait_gone "$MASTER" 1 >/dev/null || fail "stop -g returned but the master still runs"
wait "$MASTER" || fail "the master exited with status $?"
note "with --stop-timeout=2 and the connection open, stop -g took $took ms"
{ [ "$took" -ge 1500 ] && [ "$took" -le 4000 ]; } || fail "stop -g took $took ms, expected 1500-4000"
if IFS= read -r -t 1 line <&"$H"; then
    fail "the connection left open still delivers data: '$line'"
fi
unhold "$H"

# ---- 3. outgoing connections do not hold it up ------------------------------
SINK=$(free_port)
bg "$T/sink.out" "$PYTHON" "$HERE/proc_client.py" sink "$SINK"
for _ in $(seq 100); do
    grep -q listening "$T/sink.out" && break
    sleep 0.05
done
FIXARGS=(--text "text://127.0.0.1:$PORT" --count 2 --outgoing "tcp://127.0.0.1:$SINK")
start_master --stop-timeout=20
wait_ready 2 >/dev/null
for _ in $(seq 100); do
    grep -q "accepted 2" "$T/sink.out" && break
    sleep 0.05
done
grep -q "accepted 2" "$T/sink.out" || fail "the sink did not get both outgoing connections"
py ask "$PORT" hello >/dev/null || fail "no answer"
t0=$(now_ms)
fixture stop -g >"$T/stop3.out" 2>&1 || fail "stop -g failed: $(cat "$T/stop3.out")"
took=$(($(now_ms) - t0))
wait "$MASTER" || fail "the master exited with status $?"
note "2 processes each holding an outgoing connection: stop -g took $took ms (stop timeout 20 s)"
[ "$took" -lt 2000 ] || fail "outgoing connections held stop -g up for $took ms"
pass "waits for open connections, honours the timeout, ignores outgoing ones"
