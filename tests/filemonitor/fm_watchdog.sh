#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The memory watchdog: wm_fm_app with --mem-limit 96 (MB). A request to
# /grow makes its worker process allocate and touch 128 MB; within about a
# second the process logs that it is over the limit and ends, the master
# starts a fresh one, and the next answers come from the new pid, which is
# left alone (it is under the limit).
# Usage: fm_watchdog.sh BUILD_BIN_DIR
WM_TEST_NAME=filemonitor_watchdog
source "$(dirname "$0")/../libwm_process/proc_lib.sh"

FIX=$BIN/wm_fm_app
PORT=$(free_port)
FIXARGS=(--listen "http://127.0.0.1:$PORT" --mem-limit 96)
start_master "$FIX"
wait_ready 1 app >/dev/null
first=$(curl -s "http://127.0.0.1:$PORT/") || fail "no answer"
pid=${first#* }
note "before: '$first'"
curl -s "http://127.0.0.1:$PORT/grow" >/dev/null || fail "/grow failed"
t0=$(now_ms)
while :; do
    a=$(curl -s "http://127.0.0.1:$PORT/" || true)
    [ -n "$a" ] && [ "${a#* }" != "$pid" ] && break
    [ $(($(now_ms) - t0)) -lt 5000 ] || fail "the process $pid over the limit was not replaced in 5 s (answer '$a')"
    sleep 0.05
done
ms=$(($(now_ms) - t0))
alive "$pid" && fail "the old process $pid still runs"
line=$(grep -m1 "over the memory limit" "$T/master.log") || fail "the log does not say why"
note "log: ${line#*INFO }"
grep -q "process $pid .*exited with status 0.*restarting" "$T/master.log" ||
    fail "the master did not log the restart of $pid"
note "replaced by '$a' $ms ms after /grow"
sleep 1.2 # a full check period: the fresh process is under the limit
b=$(curl -s "http://127.0.0.1:$PORT/") || fail "no answer"
[ "$b" = "$a" ] || fail "the fresh process was restarted too: '$a' then '$b'"
fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"
pass "a process over the limit was replaced in $ms ms and logged"
